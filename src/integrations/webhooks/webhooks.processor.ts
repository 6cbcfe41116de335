import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, type OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, type Job } from 'bullmq';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { HandlesJob } from '../../queues/job-handlers.js';
import { type DeliverWebhookJob, JOBS, QUEUES } from '../../queues/queue-names.js';
import { WebhookDeliveriesService } from './webhook-deliveries.service.js';

/**
 * Thin: one attempt per job, handed to WebhookDeliveriesService. An application already holding its share of the
 * worker's slots has the job put back for a moment (not counted as an attempt), so a receiver that answers slowly or
 * not at all ties up at most WEBHOOK_APP_CONCURRENCY slots and never holds back another application's events.
 */
@Processor(QUEUES.webhooks)
export class WebhooksProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly inFlight = new Map<number, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deliveries: WebhookDeliveriesService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.webhooks.concurrency;
  }

  @HandlesJob(JOBS.deliverWebhook)
  async process(job: Job<DeliverWebhookJob>, token?: string): Promise<string> {
    const { applicationId, deliveryId } = job.data;
    const busy = this.inFlight.get(applicationId) ?? 0;
    if (busy >= this.config.webhooks.perApplicationConcurrency) {
      await job.moveToDelayed(Date.now() + 200 + Math.floor(Math.random() * 300), token);
      throw new DelayedError();
    }
    this.inFlight.set(applicationId, busy + 1);
    try {
      return await this.deliveries.deliver(deliveryId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    } finally {
      const left = (this.inFlight.get(applicationId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(applicationId, left);
      else this.inFlight.delete(applicationId);
    }
  }
}
