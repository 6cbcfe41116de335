import { Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client.js';
import type { CampaignStatus, ProgressState } from '../../generated/prisma/enums.js';
import { MailTransportService, classifySmtpError } from '../../mail/mail-transport.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';
import { describeProblems } from './link-free.js';
import { NO_VERIFIED_EMAIL } from './notice-queue.service.js';
import { NoticeRendererService } from './notice-renderer.service.js';

type Tx = Prisma.TransactionClient;

/** A refusal worth retrying (4xx, dropped connection, timeout); BullMQ retries it with backoff, inside the throttle. */
export class TransientNoticeError extends Error {}

export type NoticeOutcome = 'sent' | 'failed' | 'skipped';

interface NoticeRow {
  state: ProgressState;
  status: CampaignStatus;
  incident_ref: string;
  reason: string;
  phrase: string;
  template: string;
  username: string;
  display_name: string | null;
  email: string | null;
  email_verified: boolean;
  locale: string;
}

/** Sends one campaign notice, at most once per account in normal operation. */
@Injectable()
export class NoticeSenderService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly renderer: NoticeRendererService,
    private readonly mail: MailTransportService,
  ) {}

  /**
   * Holds the account's campaign row locked across the SMTP conversation, so a duplicate job waits and then finds the
   * notice already sent. Only a crash between SMTP acceptance and the commit can resend, with the same Message-ID.
   * `finalAttempt` turns a transient failure into notice_failed instead of another retry.
   */
  async send(campaignId: number, accountId: number, finalAttempt: boolean): Promise<NoticeOutcome> {
    // The SMTP send is kept outside the transaction's promise: when the database connection dies, Prisma rejects the
    // transaction at once, possibly while the send is still on the wire.
    let sending: Promise<void> | undefined;
    const outcome = await this.prisma
      .$transaction(
        async (tx): Promise<NoticeOutcome | { transient: string }> => {
          const [row] = await tx.$queryRaw<NoticeRow[]>(Prisma.sql`
            SELECT ca.state, c.status, c.incident_ref, c.reason, c.phrase, c.template,
                   a.username, a.display_name, a.email, a.email_verified, a.locale
            FROM campaign_accounts ca
            JOIN campaigns c ON c.id = ca.campaign_id
            JOIN accounts a ON a.id = ca.account_id
            WHERE ca.campaign_id = ${campaignId} AND ca.account_id = ${accountId}
            FOR UPDATE OF ca`);
          if (!row || row.status !== 'running' || (row.state !== 'flagged' && row.state !== 'notice_failed')) return 'skipped';
          if (!row.email || !row.email_verified) return this.fail(tx, campaignId, accountId, NO_VERIFIED_EMAIL);
          const notice = this.renderer.render(
            { id: campaignId, incidentRef: row.incident_ref, reason: row.reason, phrase: row.phrase, template: row.template },
            { id: accountId, username: row.username, displayName: row.display_name, locale: row.locale },
          );
          if (notice.problems.length) return this.fail(tx, campaignId, accountId, `not sent: link check failed: ${describeProblems(notice.problems)}`);
          try {
            sending = this.mail.send({ to: row.email, subject: notice.subject, text: notice.text, html: notice.html, messageId: notice.messageId, headers: notice.headers });
            await sending;
          } catch (err) {
            const failure = classifySmtpError(err);
            if (failure.permanent || finalAttempt) return this.fail(tx, campaignId, accountId, failure.reply);
            return { transient: failure.reply };
          }
          await this.progress.advance(tx, campaignId, [accountId], 'notice_sent');
          return 'sent';
        },
        { maxWait: 10_000, timeout: 120_000 },
      )
      .catch(async (err: unknown) => {
        // The server accepted the notice but the database lost the transaction (a restart, a dropped
        // connection): record the send once it is back instead of letting a retry mail the user again.
        const delivered = sending ? await sending.then(() => true, () => false) : false;
        if (!delivered) throw err;
        await this.recordDelivered(campaignId, accountId);
        return 'sent' as const;
      });
    if (typeof outcome === 'object') throw new TransientNoticeError(outcome.transient);
    return outcome;
  }

  private async recordDelivered(campaignId: number, accountId: number): Promise<void> {
    for (let attempt = 0, delayMs = 250; ; attempt++, delayMs = Math.min(delayMs * 2, 10_000)) {
      try {
        await this.prisma.$transaction((tx) => this.progress.advance(tx, campaignId, [accountId], 'notice_sent'));
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  private async fail(tx: Tx, campaignId: number, accountId: number, reply: string): Promise<NoticeOutcome> {
    const moved = await this.progress.advance(tx, campaignId, [accountId], 'notice_failed', { noticeError: reply });
    if (!moved.length) {
      // A retried notice that failed again: same state, so only the latest reply and attempt count change.
      await tx.$executeRaw(Prisma.sql`
        UPDATE campaign_accounts SET notice_error = ${reply}, notice_attempts = notice_attempts + 1, notice_failed_at = now()
        WHERE campaign_id = ${campaignId} AND account_id = ${accountId} AND state = 'notice_failed'`);
    }
    return 'failed';
  }
}
