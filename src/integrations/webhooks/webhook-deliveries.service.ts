import { InjectQueue } from '@nestjs/bullmq';
import { ConflictException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ApplicationEventsService } from '../../application-events/application-events.service.js';
import { AuditService } from '../../audit/audit.service.js';
import { Prisma } from '../../generated/prisma/client.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { type DeliverWebhookJob, QUEUES, webhookJobId } from '../../queues/queue-names.js';
import { ApplicationsService } from '../applications/applications.service.js';
import { WebhookSenderService } from './webhook-sender.service.js';

/** A failed attempt that will be retried; its message names the HTTP status or network error, never the payload. */
export class WebhookAttemptFailedError extends Error {}

export interface ApplicationDeliveryStats {
  application: string;
  delivered: number;
  pending: number;
  /** Pending deliveries whose last attempt failed (being retried), plus those that ran out of attempts. */
  failing: number;
  oldestPendingAt: Date | null;
  /** Resets done here whose new password the application has not confirmed receiving: changed here, not yet written back. */
  notWrittenBack: number;
}

const LISTED_FIELDS = {
  id: true,
  webhookId: true,
  type: true,
  accountId: true,
  campaignId: true,
  sequence: true,
  status: true,
  attempts: true,
  lastStatus: true,
  lastReply: true,
  createdAt: true,
  lastAttemptAt: true,
  deliveredAt: true,
} as const;

/** Delivery of the outbox rows: one attempt per job, the row records every outcome; listing and redelivery. */
@Injectable()
export class WebhookDeliveriesService {
  private readonly logger = new Logger(WebhookDeliveriesService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly applications: ApplicationsService,
    private readonly sender: WebhookSenderService,
    private readonly events: ApplicationEventsService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @InjectQueue(QUEUES.webhooks) private readonly queue: Queue<DeliverWebhookJob>,
  ) {}

  /**
   * Sends the delivery once, unless it is no longer pending (delivered by an earlier run: safe to run twice). A failed
   * attempt throws WebhookAttemptFailedError so the queue retries it, except the last one, which marks it failed.
   * A delivered event's credential hash is removed from the row: the receiver has it, nobody else needs it.
   */
  async deliver(deliveryId: number, lastAttempt: boolean): Promise<'delivered' | 'skipped' | 'failed'> {
    const row = await this.prisma.webhookDelivery.findUnique({ where: { id: deliveryId }, include: { application: true } });
    if (!row || row.status !== 'pending') return 'skipped';
    const body = JSON.stringify(row.payload);
    const reply = row.application.enabled
      ? await this.sender.post(row.application.webhookUrl, row.webhookId, body, this.applications.signingSecrets(row.application))
      : { ok: false, status: null, reply: 'the application is disabled' };
    const status = reply.ok ? 'delivered' : lastAttempt || !row.application.enabled ? 'failed' : 'pending';
    await this.prisma.$executeRaw(Prisma.sql`
      UPDATE webhook_deliveries SET
        status = ${status}::"WebhookDeliveryStatus", attempts = attempts + 1, last_status = ${reply.status}, last_reply = ${reply.reply},
        last_attempt_at = now(), delivered_at = CASE WHEN ${reply.ok} THEN now() END,
        payload = CASE WHEN ${reply.ok} THEN payload #- '{data,passwordHash}' ELSE payload END
      WHERE id = ${row.id} AND status = 'pending'`);
    this.metrics.webhookDeliveries.inc({ result: reply.ok ? 'delivered' : status === 'failed' ? 'failed' : 'retrying' });
    if (reply.ok) return 'delivered';
    const what = reply.status === null ? reply.reply : `HTTP ${reply.status}`;
    this.logger.warn(`webhook ${row.webhookId} (${row.type}) to ${row.application.name} failed: ${what}${status === 'failed' ? '; giving up' : ''}`);
    if (status === 'failed') return 'failed';
    throw new WebhookAttemptFailedError(`delivery ${row.id} to ${row.application.name}: ${what}`);
  }

  list(name: string, failedOnly: boolean) {
    return this.prisma.webhookDelivery.findMany({
      where: {
        application: { name: name.toLowerCase() },
        ...(failedOnly ? { OR: [{ status: 'failed' }, { status: 'pending', attempts: { gt: 0 } }] } : {}),
      },
      select: LISTED_FIELDS,
      orderBy: { id: 'desc' },
      take: 200,
    });
  }

  /** Puts a failed delivery back on the queue with the same webhook-id, so a receiver that got it after all drops it. */
  async redeliver(id: number, actor: string) {
    const row = await this.prisma.$transaction(async (tx) => {
      const current = await tx.webhookDelivery.findUnique({ where: { id }, select: { status: true, application: { select: { name: true } } } });
      if (!current) throw new NotFoundException(`no delivery ${id}`);
      if (current.status !== 'failed') throw new ConflictException(`delivery ${id} is ${current.status}; only a failed delivery can be sent again`);
      await tx.webhookDelivery.update({ where: { id }, data: { status: 'pending', queuedAt: null } });
      await this.audit.record(tx, { actor, action: 'application.webhook.redeliver', details: { deliveryId: id, name: current.application.name } });
      return tx.webhookDelivery.findUniqueOrThrow({ where: { id }, select: LISTED_FIELDS });
    });
    await this.queue.remove(webhookJobId(id));
    await this.events.dispatch();
    return row;
  }

  /**
   * Per application: delivered, pending, failing, the oldest pending event and the resets not written back yet (the
   * dashboard's write-back panel). Counts every delivery row: the outbox of one incident, not an ever-growing log.
   */
  async stats(): Promise<ApplicationDeliveryStats[]> {
    const rows = await this.prisma.$queryRaw<ApplicationDeliveryStats[]>`
      SELECT app.name AS application,
        count(*) FILTER (WHERE d.status = 'delivered')::int AS delivered,
        count(*) FILTER (WHERE d.status = 'pending')::int AS pending,
        count(*) FILTER (WHERE d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0))::int AS failing,
        min(d.created_at) FILTER (WHERE d.status = 'pending') AS "oldestPendingAt",
        count(*) FILTER (WHERE d.type = 'account.password_reset' AND d.status <> 'delivered')::int AS "notWrittenBack"
      FROM applications app LEFT JOIN webhook_deliveries d ON d.application_id = app.id
      GROUP BY app.id, app.name ORDER BY app.name`;
    return rows;
  }
}
