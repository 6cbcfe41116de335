import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { type DeliverWebhookJob, JOBS, QUEUES, webhookJobId } from '../queues/queue-names.js';

type Tx = Prisma.TransactionClient;

export type AccountEventType = 'account.flagged' | 'account.unflagged' | 'account.password_reset';

/** Most outbox rows one dispatch puts on the queue. */
const DISPATCH_BATCH = 1_000;

/** Standard Webhooks body: `type`, `timestamp` and `data`. */
const EVENT_TIMESTAMP = Prisma.sql`to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const NEW_WEBHOOK_ID = Prisma.sql`'msg_' || replace(gen_random_uuid()::text, '-', '')`;

/** BullMQ job options of a delivery: exponential backoff from retryDelayMs until the delays add up to maxAge. */
export function deliveryJobOptions(config: AppConfig['webhooks']) {
  const attempts = Math.max(1, Math.ceil(Math.log2((config.maxAgeSeconds * 1000) / config.retryDelayMs + 1)));
  return { attempts, backoff: { type: 'exponential', delay: config.retryDelayMs }, removeOnComplete: 1000, removeOnFail: 5000 };
}

/**
 * The outbox of events for connected applications. Events are written in the caller's transaction, with the change
 * they report (so none is lost and none is sent for a change that rolled back), then put on the queue after commit.
 */
@Injectable()
export class ApplicationEventsService {
  private readonly logger = new Logger(ApplicationEventsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    @InjectQueue(QUEUES.webhooks) private readonly queue: Queue<DeliverWebhookJob>,
  ) {}

  /**
   * One event per account of `accountIds` (a subquery of account ids) that belongs to an enabled application, each
   * with the account's next sequence number. `extra` is merged into each event's data. Returns how many were written.
   */
  async recordForAccounts(tx: Tx, type: AccountEventType, accountIds: Prisma.Sql, campaignId: number | null, extra: Record<string, unknown> = {}): Promise<number> {
    return tx.$executeRaw(Prisma.sql`
      WITH bumped AS (
        UPDATE accounts a SET event_sequence = a.event_sequence + 1
        FROM applications app
        WHERE a.id IN (${accountIds}) AND app.id = a.application_id AND app.enabled
        RETURNING a.id, a.application_id, a.username, a.external_id, a.event_sequence
      )
      INSERT INTO webhook_deliveries (webhook_id, application_id, account_id, campaign_id, type, sequence, payload)
      SELECT ${NEW_WEBHOOK_ID}, b.application_id, b.id, ${campaignId}::int, ${type}, b.event_sequence,
        jsonb_build_object('type', ${type}::text, 'timestamp', ${EVENT_TIMESTAMP}, 'data',
          jsonb_build_object('username', b.username, 'externalId', b.external_id, 'sequence', b.event_sequence, 'campaignId', ${campaignId}::int)
          || ${JSON.stringify(extra)}::jsonb)
      FROM bumped b`);
  }

  /** `campaign.completed` for every enabled application with accounts in the campaign. */
  async recordCampaignCompleted(tx: Tx, campaignId: number): Promise<number> {
    return tx.$executeRaw(Prisma.sql`
      INSERT INTO webhook_deliveries (webhook_id, application_id, campaign_id, type, payload)
      SELECT ${NEW_WEBHOOK_ID}, app.id, ${campaignId}::int, 'campaign.completed',
        jsonb_build_object('type', 'campaign.completed', 'timestamp', ${EVENT_TIMESTAMP}, 'data', jsonb_build_object('campaignId', ${campaignId}::int))
      FROM applications app
      WHERE app.enabled AND EXISTS (
        SELECT 1 FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
        WHERE ca.campaign_id = ${campaignId} AND a.application_id = app.id)`);
  }

  /**
   * Queues outbox rows not queued yet. The rows stay locked until the jobs are added, so a crash in between leaves
   * them for the next dispatch; a row queued twice is harmless (the job id is the row's, and delivery checks status).
   * Never throws: a caller's change is committed already, and the workers' periodic dispatch retries.
   */
  async dispatch(): Promise<number> {
    try {
      let total = 0;
      for (;;) {
        const queued = await this.prisma.$transaction(async (tx) => {
          const rows = await tx.$queryRaw<{ id: number; application_id: number }[]>`
            SELECT id, application_id FROM webhook_deliveries
            WHERE queued_at IS NULL AND status = 'pending' ORDER BY id LIMIT ${DISPATCH_BATCH} FOR UPDATE SKIP LOCKED`;
          if (!rows.length) return 0;
          await this.enqueue(rows.map((r) => ({ deliveryId: r.id, applicationId: r.application_id })));
          await tx.$executeRaw`UPDATE webhook_deliveries SET queued_at = now() WHERE id = ANY(${rows.map((r) => r.id)}::int[])`;
          return rows.length;
        });
        total += queued;
        if (queued < DISPATCH_BATCH) return total;
      }
    } catch (err) {
      this.logger.warn(`webhook dispatch failed, the next one retries: ${(err as Error).message}`);
      return 0;
    }
  }

  async enqueue(jobs: DeliverWebhookJob[]): Promise<void> {
    const options = deliveryJobOptions(this.config.webhooks);
    await this.queue.addBulk(jobs.map((data) => ({ name: JOBS.deliverWebhook, data, opts: { ...options, jobId: webhookJobId(data.deliveryId) } })));
  }
}
