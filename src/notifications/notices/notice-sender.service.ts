import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { hasReachableEmail } from '../../accounts/reachable-email.js';
import { AuditService } from '../../audit/audit.service.js';
import { VerpAddresses } from '../../bounces/verp.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { CampaignStatus, ProgressState } from '../../generated/prisma/enums.js';
import { MailTransportService, classifySmtpError } from '../../mail/mail-transport.service.js';
import { MetricsService, type NoticeReplyClass } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';
import { describeProblems } from '../link-free.js';
import { domainRatesFrom, isSlowDown, recipientDomain } from './domain-rates.js';
import { ACCOUNT_DISABLED, NO_VERIFIED_EMAIL, NoticeQueueService } from './notice-queue.service.js';
import { NoticePacerService } from './notice-pacer.service.js';
import { NoticeRendererService } from './notice-renderer.service.js';

/** A refusal worth retrying (4xx, dropped connection, timeout); BullMQ retries it with backoff, inside the throttle. */
export class TransientNoticeError extends Error {}

/** The notice's domain or the global cap has no slot soon: the job is put off by `delayMs`, not counted as an attempt. */
export class NoticeDeferredError extends Error {
  constructor(readonly delayMs: number) {
    super(`put off for ${delayMs} ms by domain or global pacing`);
  }
}

export type NoticeOutcome = 'sent' | 'failed' | 'skipped';

interface NoticeRow {
  state: ProgressState;
  status: CampaignStatus;
  canary_remaining: number | null;
  notice_rate: number;
  domain_rates: unknown;
  incident_ref: string;
  reason: string;
  phrase: string;
  template: string;
  username: string;
  display_name: string | null;
  email: string | null;
  emailVerified: boolean;
  locale: string;
  disabled: boolean;
}

const LOCK_NOTICE_ROW = `
  SELECT ca.state, c.status, c.canary_remaining, c.notice_rate, c.domain_rates, c.incident_ref, c.reason, c.phrase, c.template,
         a.username, a.display_name, a.email, a.email_verified AS "emailVerified", a.locale, a.disabled
  FROM campaign_accounts ca
  JOIN campaigns c ON c.id = ca.campaign_id
  JOIN accounts a ON a.id = ca.account_id
  WHERE ca.campaign_id = $1 AND ca.account_id = $2
  FOR UPDATE OF ca`;

/**
 * Takes one of a canary launch's notices; the last one pauses the campaign. The campaign row stays locked until this
 * send commits or rolls back (a retry gives the notice back), so however many workers send, exactly N go out.
 */
const TAKE_CANARY_NOTICE = `
  UPDATE campaigns SET canary_remaining = canary_remaining - 1,
         status = CASE WHEN canary_remaining = 1 THEN 'paused'::"CampaignStatus" ELSE status END, updated_at = now()
  WHERE id = $1 AND status = 'running' AND canary_remaining > 0
  RETURNING canary_remaining`;

const RECORD_REPEATED_FAILURE = `
  UPDATE campaign_accounts SET notice_error = $3, notice_attempts = notice_attempts + 1, notice_failed_at = now()
  WHERE campaign_id = $1 AND account_id = $2 AND state = 'notice_failed'`;

/**
 * Sends the statements `submit` queues in one socket write. The sender's pool runs pg in pipeline mode, so queries are
 * written as soon as they are queued; without corking, each protocol message (five per parameterised query) is a
 * syscall of its own, and those writes were the largest cost of a notice after SMTP itself.
 */
function inOneWrite<T>(client: pg.PoolClient, submit: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork(): void; uncork(): void } } }).connection?.stream;
  stream?.cork();
  try {
    return submit();
  } finally {
    stream?.uncork();
  }
}

/** Sends one campaign notice, at most once per account in normal operation. */
@Injectable()
export class NoticeSenderService implements OnModuleDestroy {
  /**
   * The notice hot path's own connections (one per send in flight, each held across its SMTP conversation), so a
   * campaign at full speed never makes the API's queries wait for a connection.
   */
  private readonly pool: pg.Pool;

  constructor(
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly renderer: NoticeRendererService,
    private readonly mail: MailTransportService,
    private readonly pacer: NoticePacerService,
    private readonly metrics: MetricsService,
    private readonly queues: NoticeQueueService,
    private readonly audit: AuditService,
    private readonly verp: VerpAddresses,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.pool = new pg.Pool({ connectionString: config.database.url, max: config.campaigns.noticeConcurrency, pipeline: true, connectionTimeoutMillis: 60_000 });
    // An idle connection that dies (a database restart) is dropped by the pool; the next send opens a new one.
    this.pool.on('error', () => undefined);
  }

  /**
   * Holds the account's campaign row locked across the SMTP conversation, so a duplicate job waits and then finds the
   * notice already sent. Only a crash between SMTP acceptance and the commit can resend, with the same Message-ID.
   * `finalAttempt` turns a transient failure into notice_failed instead of another retry.
   */
  async send(campaignId: number, accountId: number, finalAttempt: boolean): Promise<NoticeOutcome> {
    const client = await this.pool.connect();
    // Set once the server has accepted the notice: from then on, losing the database must not lead to a resend.
    let delivered = false;
    let broken: Error | undefined;
    // A connection that dies while SMTP talks (no query running) is reported as an event, which must not crash the worker.
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    try {
      return await this.sendLocked(client, campaignId, accountId, finalAttempt, () => (delivered = true));
    } catch (err) {
      if (err instanceof TransientNoticeError || err instanceof NoticeDeferredError) throw err;
      broken ??= err as Error;
      if (!delivered) throw err;
      // The server accepted the notice but the database lost the transaction (a restart, a dropped connection):
      // record the send once it is back instead of letting a retry mail the user again.
      await this.recordDelivered(campaignId, accountId);
      return 'sent';
    } finally {
      client.off('error', onError);
      // A client whose transaction failed may sit on a dead connection: destroy it rather than hand it back.
      client.release(broken);
    }
  }

  private async sendLocked(
    client: pg.PoolClient,
    campaignId: number,
    accountId: number,
    finalAttempt: boolean,
    accepted: () => void,
  ): Promise<NoticeOutcome> {
    const [, locked] = await inOneWrite(client, () => Promise.all([client.query('BEGIN'), client.query<NoticeRow>({ name: 'ro_lock_notice_row', text: LOCK_NOTICE_ROW, values: [campaignId, accountId] })]));
    const row = locked.rows[0];
    if (!row || row.status !== 'running' || (row.state !== 'flagged' && row.state !== 'notice_failed')) {
      await client.query('ROLLBACK');
      return 'skipped';
    }
    if (row.disabled) return this.fail(client, campaignId, accountId, ACCOUNT_DISABLED, 'account_disabled');
    if (!hasReachableEmail(row)) return this.fail(client, campaignId, accountId, NO_VERIFIED_EMAIL, 'no_verified_email');
    const notice = this.renderer.render(
      { id: campaignId, incidentRef: row.incident_ref, reason: row.reason, phrase: row.phrase, template: row.template },
      { id: accountId, username: row.username, displayName: row.display_name, locale: row.locale },
    );
    if (notice.problems.length) return this.fail(client, campaignId, accountId, `not sent: link check failed: ${describeProblems(notice.problems)}`, 'link_check');
    let canaryDone = false;
    if (row.canary_remaining !== null) {
      const taken = await client.query<{ canary_remaining: number }>(TAKE_CANARY_NOTICE, [campaignId]);
      if (!taken.rows.length) {
        await client.query('ROLLBACK');
        return 'skipped';
      }
      canaryDone = taken.rows[0].canary_remaining === 0;
    }
    const domain = recipientDomain(row.email);
    const paced = await this.pacer.waitForSlot({ campaignId, rate: row.notice_rate, domain, domainRates: domainRatesFrom(row.domain_rates) });
    if ('deferMs' in paced) {
      await client.query('ROLLBACK');
      throw new NoticeDeferredError(paced.deferMs);
    }
    const sending = this.metrics.noticeSendSeconds.startTimer();
    try {
      await this.mail.sendNotice({ to: row.email, envelopeFrom: this.verp.address(campaignId, accountId), subject: notice.subject, text: notice.text, html: notice.html, messageId: notice.messageId, headers: notice.headers });
    } catch (err) {
      sending();
      void paced.finished();
      const failure = classifySmtpError(err);
      if (!failure.permanent && isSlowDown(failure.reply)) await this.pacer.slowDown(domain, failure.reply);
      if (failure.permanent || finalAttempt) return this.fail(client, campaignId, accountId, failure.reply, failure.replyClass);
      await client.query('ROLLBACK');
      this.metrics.notices.inc({ campaign_id: campaignId, result: 'deferred', reply_class: failure.replyClass });
      throw new TransientNoticeError(failure.reply);
    }
    sending();
    // Not awaited: the token's second starts when Redis runs this, which is after the acceptance either way.
    void paced.finished();
    accepted();
    // advance() queues its statement before its first await, so it and the COMMIT go out together.
    await inOneWrite(client, () => Promise.all([this.progress.advance(client, campaignId, [accountId], 'notice_sent'), client.query('COMMIT')]));
    this.countSent(campaignId);
    if (canaryDone) await this.canaryPaused(campaignId);
    return 'sent';
  }

  /** After the canary's last notice: the queue stops handing out jobs, and the pause is on the record. */
  private async canaryPaused(campaignId: number): Promise<void> {
    await this.audit.recordNow({ actor: 'system', action: 'campaign.pause', campaignId, details: { from: 'running', canary: 'sent' } });
    await this.queues.queue(campaignId).pause().catch(() => undefined);
  }

  private countSent(campaignId: number): void {
    this.metrics.notices.inc({ campaign_id: campaignId, result: 'sent', reply_class: '2xx' });
  }

  private async recordDelivered(campaignId: number, accountId: number): Promise<void> {
    for (let attempt = 0, delayMs = 250; ; attempt++, delayMs = Math.min(delayMs * 2, 10_000)) {
      try {
        await this.prisma.$transaction((tx) => this.progress.advance(tx, campaignId, [accountId], 'notice_sent'));
        this.countSent(campaignId);
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  private async fail(client: pg.PoolClient, campaignId: number, accountId: number, reply: string, replyClass: NoticeReplyClass): Promise<NoticeOutcome> {
    const moved = await this.progress.advance(client, campaignId, [accountId], 'notice_failed', { noticeError: reply });
    // A retried notice that failed again: same state, so only the latest reply and attempt count change.
    if (!moved.length) await client.query(RECORD_REPEATED_FAILURE, [campaignId, accountId, reply]);
    await client.query('COMMIT');
    this.metrics.notices.inc({ campaign_id: campaignId, result: 'failed', reply_class: replyClass });
    return 'failed';
  }

  /** Opens `connections` of the sender's pool ahead of a campaign's first sends, which are otherwise slow and bunch up. */
  async warmUp(connections: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: Math.min(connections, this.pool.options.max) }, () => this.pool.connect()));
    clients.forEach((client) => client.release());
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
