import { Injectable, Logger } from '@nestjs/common';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { sha256Hex } from '../common/tokens.js';
import { Prisma } from '../generated/prisma/client.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { bounceNoticeError, readBounce } from './delivery-status.js';
import { VerpAddresses } from './verp.js';

/**
 * failed: the account moved to notice_failed (or was already past it); delayed: recorded only; duplicate: this report
 * was processed before, or names no account of the campaign; the rest change nothing.
 */
export type BounceResult = 'failed' | 'delayed' | 'duplicate' | 'ignored' | 'forged' | 'not-ours';

/** Where a mailbox's copy names its envelope recipient; the DSN's own To is the VERP address it was sent back to. */
const RECIPIENT_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'to'];
const ADDRESS = /[^\s<>,;:"()[\]]+@[^\s<>,;:"()[\]]+/g;

function headerAddresses(mail: ParsedMail): string[] {
  return RECIPIENT_HEADERS.flatMap((name) => {
    const values = [mail.headers.get(name)].flat().filter((v) => v !== undefined);
    return values.flatMap((value) => {
      if (typeof value === 'string') return value.match(ADDRESS) ?? [];
      const objects = (value as AddressObject).value ? [value as AddressObject] : [];
      return objects.flatMap((o) => o.value.map((a) => a.address ?? '')).filter(Boolean);
    });
  });
}

/** One incoming mail read as a bounce of a notice: the use case behind the SMTP listener and the mailbox reader. */
@Injectable()
export class BounceProcessor {
  private readonly logger = new Logger(BounceProcessor.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly verp: VerpAddresses,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * `envelopeRecipients`: the SMTP RCPT TO addresses when the mail came over SMTP; a mailbox's copy has none and is
   * read from its headers. Throws only when the database fails, so the caller can leave the mail for a later try.
   */
  async process(raw: Buffer | string, envelopeRecipients: string[] = []): Promise<BounceResult> {
    const result = await this.record(raw, envelopeRecipients);
    if (result === 'failed' || result === 'delayed' || result === 'ignored' || result === 'forged') this.metrics.bounces.inc({ kind: result });
    return result;
  }

  private async record(raw: Buffer | string, envelopeRecipients: string[]): Promise<BounceResult> {
    const mail = await simpleParser(raw, { keepDeliveryStatus: true, skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    const checks = (envelopeRecipients.length ? envelopeRecipients : headerAddresses(mail)).map((a) => this.verp.check(a));
    const target = checks.find((c) => c.kind === 'account');
    if (!target || target.kind !== 'account') {
      if (checks.some((c) => c.kind === 'forged')) {
        this.logger.warn('ignored a bounce to a bounce address whose signature does not match (forged or altered)');
        return 'forged';
      }
      return 'not-ours';
    }
    const { campaignId, accountId } = target;
    const bounce = readBounce(mail);
    if (bounce.kind === 'ignored') {
      this.logger.debug(`ignored mail to the bounce address of campaign ${campaignId} account ${accountId}: ${bounce.reason}`);
      return 'ignored';
    }
    const reportKey = sha256Hex(`${campaignId}.${accountId}\n${mail.messageId ?? ''}\n${bounce.report}`);
    const recorded = await this.prisma.$transaction(async (tx) => {
      // INSERT … SELECT: a report naming an account the campaign does not have (deleted since) records nothing.
      const inserted = await tx.$queryRaw<{ id: number }[]>(Prisma.sql`
        INSERT INTO notice_bounces (campaign_id, account_id, kind, status, diagnostic, report_key)
        SELECT campaign_id, account_id, ${bounce.kind}::"BounceKind", ${bounce.status}, ${bounce.diagnostic}, ${reportKey}
        FROM campaign_accounts WHERE campaign_id = ${campaignId} AND account_id = ${accountId}
        ON CONFLICT (report_key) DO NOTHING
        RETURNING id`);
      if (!inserted.length) return false;
      if (bounce.kind === 'failed') {
        await this.progress.advance(tx, campaignId, [accountId], 'notice_failed', { noticeError: bounceNoticeError(bounce.status, bounce.diagnostic), countAttempt: false });
      }
      return true;
    });
    if (!recorded) return 'duplicate';
    this.logger.log(`bounce for campaign ${campaignId} account ${accountId}: ${bounce.kind} ${bounce.status}`);
    return bounce.kind;
  }
}
