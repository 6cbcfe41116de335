import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { hasReachableEmail } from '../../accounts/reachable-email.js';
import { AuditService } from '../../audit/audit.service.js';
import { VerpAddresses } from '../../bounces/verp.js';
import { MailTransportService, classifySmtpError } from '../../mail/mail-transport.service.js';
import { MetricsService, type NoticeReplyClass } from '../../metrics/metrics.service.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';
import { describeProblems } from '../link-free.js';
import { domainRatesFrom, isSlowDown, recipientDomain } from './domain-rates.js';
import { NoticeClaimsService, type NoticeRow, recordNoticeFailure } from './notice-claims.service.js';
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

const LOCK_CANARY_ROW = `
  SELECT ca.state, c.status, c.canary_remaining, c.notice_rate, c.domain_rates, c.incident_ref, c.reason, c.phrase, c.template,
         a.username, a.display_name, a.email, a.email_verified AS "emailVerified", a.locale, a.disabled,
         ca.notice_lease_until > now() AS leased
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

/**
 * Sends the statements `submit` queues in one socket write. The pool runs pg in pipeline mode, so queries are written
 * as soon as they are queued; without corking, each protocol message (five per parameterised query) is a syscall of
 * its own.
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

/** How one send ends in the database, for a claimed notice or a canary's locked one. */
interface SendEnds {
  /** After the checks, right before pacing: false when the send must not happen after all. */
  start(): Promise<boolean>;
  /** notice_failed with the reply. */
  fail(reply: string): Promise<void>;
  /** Nothing went out: the notice is free for a later try. */
  giveBack(): Promise<void>;
  /** The server accepted the notice: record it. */
  delivered(): Promise<void>;
}

/** Sends one campaign notice, at most once per account in normal operation. */
@Injectable()
export class NoticeSenderService {
  private readonly canaryTurns = new Map<number, Promise<void>>();

  constructor(
    private readonly progress: CampaignProgressService,
    private readonly claims: NoticeClaimsService,
    private readonly renderer: NoticeRendererService,
    private readonly mail: MailTransportService,
    private readonly pacer: NoticePacerService,
    private readonly metrics: MetricsService,
    private readonly queues: NoticeQueueService,
    private readonly audit: AuditService,
    private readonly verp: VerpAddresses,
  ) {}

  /**
   * Claims the account's notice (with the campaign's other sends of the moment), sends it and waits for the group
   * commit that records it. Only a crash between SMTP acceptance and that commit can resend, with the same
   * Message-ID. `finalAttempt` turns a transient failure into notice_failed instead of another retry.
   */
  async send(campaignId: number, accountId: number, finalAttempt: boolean): Promise<NoticeOutcome> {
    const claim = await this.claims.claim(campaignId, accountId);
    switch (claim.kind) {
      case 'skip':
        return 'skipped';
      case 'leased':
        throw new NoticeDeferredError(claim.retryInMs);
      case 'canary':
        return this.inCanaryTurn(campaignId, () => this.sendCanary(campaignId, accountId, finalAttempt));
      case 'claimed':
        return this.sendClaimed(campaignId, accountId, claim.row, finalAttempt);
    }
  }

  private async sendClaimed(campaignId: number, accountId: number, row: NoticeRow, finalAttempt: boolean): Promise<NoticeOutcome> {
    let ended = false;
    const end = <T>(step: () => Promise<T>) => {
      ended = true;
      return step();
    };
    try {
      return await this.deliver(campaignId, accountId, row, finalAttempt, {
        start: async () => true,
        fail: (reply) => end(() => this.claims.fail(campaignId, accountId, reply)),
        giveBack: () => end(() => this.claims.release(campaignId, accountId)),
        delivered: () => end(() => this.claims.recordSent(campaignId, accountId)),
      });
    } catch (err) {
      // Anything else that stopped the send before the server had it (Redis, a template): the next try may claim it.
      if (!ended) await this.claims.release(campaignId, accountId).catch(() => undefined);
      throw err;
    }
  }

  /**
   * A canary's sends queue here, one per campaign at a time in this process: they would only wait for the campaign's
   * row lock, each holding a connection of the notice path's small pool meanwhile.
   */
  private inCanaryTurn<T>(campaignId: number, work: () => Promise<T>): Promise<T> {
    const turn = (this.canaryTurns.get(campaignId) ?? Promise.resolve()).then(work);
    const settled = turn.then(
      () => undefined,
      () => undefined,
    );
    this.canaryTurns.set(campaignId, settled);
    void settled.then(() => this.canaryTurns.get(campaignId) === settled && this.canaryTurns.delete(campaignId));
    return turn;
  }

  /**
   * A canary's notice: the account's row and the campaign's are locked across the SMTP conversation, so the canary's
   * notices go one at a time and exactly N are taken, however many workers send.
   */
  private async sendCanary(campaignId: number, accountId: number, finalAttempt: boolean): Promise<NoticeOutcome> {
    const client = await this.claims.pool.connect();
    let broken: Error | undefined;
    // A connection that dies while SMTP talks (no query running) is reported as an event, which must not crash the worker.
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    let canaryDone = false;
    try {
      const [, locked] = await inOneWrite(client, () =>
        Promise.all([client.query('BEGIN'), client.query<NoticeRow & { leased: boolean | null }>({ name: 'ro_lock_canary_row', text: LOCK_CANARY_ROW, values: [campaignId, accountId] })]),
      );
      const row = locked.rows[0];
      if (!row || row.status !== 'running' || (row.state !== 'flagged' && row.state !== 'notice_failed') || row.leased) {
        await client.query('ROLLBACK');
        if (row?.leased) throw new NoticeDeferredError(1000);
        return 'skipped';
      }
      const outcome = await this.deliver(campaignId, accountId, row, finalAttempt, {
        start: async () => {
          const taken = await client.query<{ canary_remaining: number }>(TAKE_CANARY_NOTICE, [campaignId]);
          canaryDone = taken.rows[0]?.canary_remaining === 0;
          return taken.rows.length > 0;
        },
        fail: async (reply) => {
          await recordNoticeFailure(this.progress, client, campaignId, accountId, reply);
          await client.query('COMMIT');
        },
        giveBack: async () => void (await client.query('ROLLBACK')),
        delivered: async () => {
          try {
            await inOneWrite(client, () => Promise.all([this.progress.advance(client, campaignId, [accountId], 'notice_sent'), client.query('COMMIT')]));
          } catch (err) {
            // The database lost the transaction after the server accepted the notice: record it once it is back.
            broken ??= err as Error;
            await this.claims.recordSent(campaignId, accountId);
          }
        },
      });
      if (canaryDone && outcome !== 'skipped') await this.canaryPaused(campaignId);
      return outcome;
    } catch (err) {
      broken ??= err instanceof TransientNoticeError || err instanceof NoticeDeferredError ? undefined : (err as Error);
      if (broken) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      // A client whose transaction failed may sit on a dead connection: destroy it rather than hand it back.
      client.release(broken);
    }
  }

  private async deliver(campaignId: number, accountId: number, row: NoticeRow, finalAttempt: boolean, ends: SendEnds): Promise<NoticeOutcome> {
    const fail = async (reply: string, replyClass: NoticeReplyClass): Promise<NoticeOutcome> => {
      await ends.fail(reply);
      this.metrics.notices.inc({ campaign_id: campaignId, result: 'failed', reply_class: replyClass });
      return 'failed';
    };
    if (row.disabled) return fail(ACCOUNT_DISABLED, 'account_disabled');
    if (!hasReachableEmail(row)) return fail(NO_VERIFIED_EMAIL, 'no_verified_email');
    const notice = this.renderer.render(
      { id: campaignId, incidentRef: row.incident_ref, reason: row.reason, phrase: row.phrase, template: row.template },
      { id: accountId, username: row.username, displayName: row.display_name, locale: row.locale },
    );
    if (notice.problems.length) return fail(`not sent: link check failed: ${describeProblems(notice.problems)}`, 'link_check');
    if (!(await ends.start())) {
      await ends.giveBack();
      return 'skipped';
    }
    const domain = recipientDomain(row.email);
    const paced = await this.pacer.waitForSlot({ campaignId, rate: row.notice_rate, domain, domainRates: domainRatesFrom(row.domain_rates) });
    if ('deferMs' in paced) {
      await ends.giveBack();
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
      if (failure.permanent || finalAttempt) return fail(failure.reply, failure.replyClass);
      await ends.giveBack();
      this.metrics.notices.inc({ campaign_id: campaignId, result: 'deferred', reply_class: failure.replyClass });
      throw new TransientNoticeError(failure.reply);
    }
    sending();
    // Not awaited: the token's second starts when Redis runs this, which is after the acceptance either way.
    void paced.finished();
    await ends.delivered();
    this.metrics.notices.inc({ campaign_id: campaignId, result: 'sent', reply_class: '2xx' });
    return 'sent';
  }

  /** After the canary's last notice: the queue stops handing out jobs, and the pause is on the record. */
  private async canaryPaused(campaignId: number): Promise<void> {
    await this.audit.recordNow({ actor: 'system', action: 'campaign.pause', campaignId, details: { from: 'running', canary: 'sent' } });
    await this.queues.queue(campaignId).pause().catch(() => undefined);
  }

  /** Opens `connections` of the notice path's pool ahead of a campaign's first sends, which are otherwise slow and bunch up. */
  warmUp(connections: number): Promise<void> {
    return this.claims.warmUp(connections);
  }
}
