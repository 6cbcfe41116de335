import { Injectable } from '@nestjs/common';
import { REACHABLE_EMAIL, hasReachableEmail } from '../../accounts/reachable-email.js';
import { VerpAddresses } from '../../bounces/verp.js';
import { Prisma } from '../../generated/prisma/client.js';
import { MailTransportService, classifySmtpError } from '../../mail/mail-transport.service.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { domainRatesFrom, isSlowDown, recipientDomain } from './domain-rates.js';
import type { CampaignMailRow } from './notice-claims.service.js';
import { NoticePacerService, type SendSlot } from './notice-pacer.service.js';
import { NoticeRendererService, type RenderedNotice } from './notice-renderer.service.js';
import { NoticeDeferredError, type NoticeOutcome, TransientNoticeError } from './notice-sender.service.js';
import { REMINDED_STATES, REMINDER_TEMPLATE } from './reminder-schedule.js';

interface ReminderRow extends CampaignMailRow {
  reminder_due: number;
  reminders_sent: number;
  reminder_sent_at: Date | null;
}

const remindable = Prisma.raw(`ca.state IN (${REMINDED_STATES.map((s) => `'${s}'`).join(', ')})`);

/** The server answered, or was never reached: either way it has not got the reminder, so it may go again. */
function neverDelivered(err: unknown): boolean {
  const { responseCode, command } = err as { responseCode?: number; command?: string };
  return (typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500) || command === 'CONN';
}

/**
 * Sends one reminder to one account. The database decides: the account's row records the reminder number it got
 * *before* SMTP is talked to, in the statement that also counts it, so a retried job, a duplicate or a worker that
 * crashed after the claim never sends the same reminder twice. The price is the other direction: a worker that dies
 * between the claim and the server's answer loses that account's reminder (a missed nudge, not a second mail).
 */
@Injectable()
export class ReminderSenderService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly renderer: NoticeRendererService,
    private readonly mail: MailTransportService,
    private readonly pacer: NoticePacerService,
    private readonly verp: VerpAddresses,
    private readonly metrics: MetricsService,
  ) {}

  async send(campaignId: number, accountId: number, reminder: number): Promise<NoticeOutcome> {
    const outcome = await this.attempt(campaignId, accountId, reminder);
    if (outcome !== 'skipped') this.metrics.reminders.inc({ campaign_id: campaignId, result: outcome });
    return outcome;
  }

  private async attempt(campaignId: number, accountId: number, reminder: number): Promise<NoticeOutcome> {
    const [row] = await this.prisma.$queryRaw<ReminderRow[]>(Prisma.sql`
      SELECT ca.state, c.status, c.notice_rate, c.domain_rates, c.incident_ref, c.reason, c.phrase,
             ca.reminder_due, ca.reminders_sent, ca.reminder_sent_at,
             a.username, a.display_name, a.email, a.email_verified AS "emailVerified", a.locale, a.disabled
      FROM campaign_accounts ca JOIN campaigns c ON c.id = ca.campaign_id JOIN accounts a ON a.id = ca.account_id
      WHERE ca.campaign_id = ${campaignId} AND ca.account_id = ${accountId}`);
    if (!row || row.status !== 'running' || row.reminder_due !== reminder || row.reminders_sent >= reminder) return 'skipped';
    if (!(REMINDED_STATES as string[]).includes(row.state) || row.disabled || !hasReachableEmail(row)) return 'skipped';
    const notice = this.renderer.render(
      { id: campaignId, incidentRef: row.incident_ref, reason: row.reason, phrase: row.phrase, template: REMINDER_TEMPLATE },
      { id: accountId, username: row.username, displayName: row.display_name, locale: row.locale },
      reminder,
    );
    const domain = recipientDomain(row.email);
    let slot: SendSlot | undefined;
    if (!notice.problems.length) {
      const paced = await this.pacer.waitForSlot({ campaignId, rate: row.notice_rate, domain, domainRates: domainRatesFrom(row.domain_rates) });
      if ('deferMs' in paced) throw new NoticeDeferredError(paced.deferMs);
      slot = paced;
    }
    try {
      return await this.claimAndSend(campaignId, accountId, reminder, row, notice, domain);
    } finally {
      void slot?.finished();
    }
  }

  private async claimAndSend(campaignId: number, accountId: number, reminder: number, row: ReminderRow & { email: string }, notice: RenderedNotice, domain: string): Promise<NoticeOutcome> {
    if (!(await this.claim(campaignId, accountId, reminder))) return 'skipped';
    // A reminder that fails the link check is never sent, and not tried again: the next one may pass.
    if (notice.problems.length) return this.failed(campaignId, reminder);
    try {
      await this.mail.sendNotice({ to: row.email, envelopeFrom: this.verp.address(campaignId, accountId), subject: notice.subject, text: notice.text, html: notice.html, messageId: notice.messageId, headers: notice.headers });
    } catch (err) {
      const failure = classifySmtpError(err);
      if (failure.permanent || !neverDelivered(err)) return this.failed(campaignId, reminder);
      await this.unclaim(campaignId, accountId, reminder, row);
      if (isSlowDown(failure.reply)) await this.pacer.slowDown(domain, failure.reply);
      throw new TransientNoticeError(failure.reply);
    }
    return 'sent';
  }

  /**
   * One statement: the row takes the reminder number if it is still due and the account still open, reachable and
   * enabled, and the reminder's counter counts it. Two claims of one account: the second finds the number taken.
   */
  private async claim(campaignId: number, accountId: number, reminder: number): Promise<boolean> {
    const rows = await this.prisma.$queryRaw<unknown[]>(Prisma.sql`
      WITH claimed AS (
        UPDATE campaign_accounts ca SET reminders_sent = ${reminder}, reminder_sent_at = now()
        FROM accounts a, campaigns c
        WHERE ca.campaign_id = ${campaignId} AND ca.account_id = ${accountId} AND a.id = ca.account_id AND c.id = ca.campaign_id
          AND c.status = 'running' AND ca.reminder_due = ${reminder} AND ca.reminders_sent < ${reminder}
          AND ${remindable} AND NOT a.disabled AND ${REACHABLE_EMAIL}
        RETURNING ca.account_id
      )
      UPDATE campaign_reminders SET sent = sent + 1
      WHERE campaign_id = ${campaignId} AND number = ${reminder} AND EXISTS (SELECT 1 FROM claimed)
      RETURNING number`);
    return rows.length > 0;
  }

  /** The server refused for now: the account gets the reminder back, and the counter gives the send back. */
  private async unclaim(campaignId: number, accountId: number, reminder: number, before: ReminderRow): Promise<void> {
    await this.prisma.$queryRaw(Prisma.sql`
      WITH released AS (
        UPDATE campaign_accounts SET reminders_sent = ${before.reminders_sent}, reminder_sent_at = ${before.reminder_sent_at}::timestamptz
        WHERE campaign_id = ${campaignId} AND account_id = ${accountId} AND reminders_sent = ${reminder}
        RETURNING account_id
      )
      UPDATE campaign_reminders SET sent = sent - 1
      WHERE campaign_id = ${campaignId} AND number = ${reminder} AND EXISTS (SELECT 1 FROM released)
      RETURNING number`);
  }

  private async failed(campaignId: number, reminder: number): Promise<NoticeOutcome> {
    await this.prisma.$executeRaw(Prisma.sql`
      UPDATE campaign_reminders SET sent = sent - 1, failed = failed + 1 WHERE campaign_id = ${campaignId} AND number = ${reminder}`);
    return 'failed';
  }
}
