import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { HandlesJob } from '../../queues/job-handlers.js';
import { JOBS, type SendNoticeJob, type SendReminderJob, noticeQueueName } from '../../queues/queue-names.js';
import { redisConnectionOptions } from '../../queues/queues.module.js';
import { sendSlotsFor } from './notice-rate.js';
import { NoticeRendererService } from './notice-renderer.service.js';
import { NoticeDeferredError, type NoticeOutcome, NoticeSenderService } from './notice-sender.service.js';
import { ReminderSenderService } from './reminder-sender.service.js';

/**
 * A new worker sends one notice at a time until it has sent WARM_UP_SENDS, or WARM_UP_MS have passed since its first
 * job (a slow server must not hold it to one send at a time for long). The first sends open the SMTP connection and are
 * slow; several first sends at once would each open one, finish together and reach the server above the rate. (A
 * half-second clock from the worker's creation often ran out while the campaign was still flagging, before the first
 * send: the serial throttle test then saw 52 in a second at 50/s.)
 */
const WARM_UP_SENDS = 5;
const WARM_UP_MS = 1000;

interface CampaignWorker {
  worker: Worker<SendNoticeJob>;
  sent: number;
  /** When this worker took its first job (performance.now()). */
  firstJobAt?: number;
}

/**
 * One BullMQ worker per running or paused campaign in this process; the campaign queue's global rate limit holds
 * across every worker process. Started, resized and stopped from the campaign rows at boot, on every sweep and
 * whenever a campaign job runs here.
 */
@Injectable()
export class NoticeWorkersService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(NoticeWorkersService.name);
  private readonly workers = new Map<number, CampaignWorker>();
  private timer?: NodeJS.Timeout;
  private reconciling?: Promise<void>;

  constructor(
    private readonly prisma: PrismaService,
    private readonly sender: NoticeSenderService,
    private readonly reminders: ReminderSenderService,
    private readonly renderer: NoticeRendererService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.config.campaigns.sweepIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** Processor: thin; the sender checks the database before doing anything. Counts the sends of the warm-up. */
  @HandlesJob(JOBS.sendNotice)
  private processorFor(campaignId: number) {
    return async (job: Job<SendNoticeJob>, token?: string): Promise<NoticeOutcome> => {
      const entry = this.workers.get(campaignId);
      if (entry && entry.firstJobAt === undefined) {
        entry.firstJobAt = performance.now();
        setTimeout(() => void this.reconcile(), WARM_UP_MS).unref();
      }
      let outcome: NoticeOutcome;
      try {
        outcome =
          job.name === JOBS.sendReminder
            ? await this.sendReminder(job as Job<SendReminderJob>)
            : await this.sender.send(job.data.campaignId, job.data.accountId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      } catch (err) {
        if (!(err instanceof NoticeDeferredError)) throw err;
        await job.moveToDelayed(Date.now() + err.delayMs, token);
        throw new DelayedError();
      }
      if (entry && outcome !== 'skipped' && ++entry.sent === WARM_UP_SENDS) void this.reconcile();
      return outcome;
    };
  }

  /** Reminders share the campaign's queue, so its rate limit, pacing and pause hold them exactly like notices. */
  @HandlesJob(JOBS.sendReminder)
  private sendReminder(job: Job<SendReminderJob>): Promise<NoticeOutcome> {
    return this.reminders.send(job.data.campaignId, job.data.accountId, job.data.reminder);
  }

  private ensure(campaign: { id: number; noticeRate: number; template: string }): void {
    const { noticeSendBudgetMs, noticeConcurrency } = this.config.campaigns;
    const existing = this.workers.get(campaign.id);
    const slots = sendSlotsFor(campaign.noticeRate, noticeSendBudgetMs, noticeConcurrency);
    const warm = existing && (existing.sent >= WARM_UP_SENDS || (existing.firstJobAt !== undefined && performance.now() - existing.firstJobAt >= WARM_UP_MS));
    const concurrency = warm ? slots : 1;
    if (existing) {
      if (existing.worker.concurrency !== concurrency) existing.worker.concurrency = concurrency;
      return;
    }
    const worker = new Worker<SendNoticeJob>(noticeQueueName(campaign.id), this.processorFor(campaign.id), {
      connection: redisConnectionOptions(this.config.redis.url),
      prefix: this.config.redis.queuePrefix,
      concurrency,
      autorun: false,
      // A killed worker's jobs go back to the queue after its lock lapses; live workers renew theirs meanwhile.
      lockDuration: 10_000,
      stalledInterval: 5_000,
    });
    worker.on('error', (err) => this.logger.warn(`notice worker for campaign ${campaign.id}: ${err.message}`));
    this.workers.set(campaign.id, { worker, sent: 0 });
    void this.warmUp(slots, campaign.template)
      .then(() => worker.run())
      .catch((err: Error) => this.logger.warn(`notice worker for campaign ${campaign.id} stopped: ${err.message}`));
  }

  /**
   * Opens the database connections and compiles the templates the first sends need. Otherwise the first sends of a
   * campaign take much longer than the rest and arrive bunched, above the rate, at the receiving server.
   */
  private async warmUp(connections: number, template: string): Promise<void> {
    await this.sender.warmUp(connections);
    if (this.renderer.templateExists(template)) this.renderer.previewTemplate(template);
  }

  reconcile(): Promise<void> {
    this.reconciling ??= this.startAndStop().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async startAndStop(): Promise<void> {
    try {
      const active = await this.prisma.campaign.findMany({ where: { status: { in: ['running', 'paused'] } }, select: { id: true, noticeRate: true, template: true } });
      const ids = new Set(active.map((c) => c.id));
      for (const campaign of active) this.ensure(campaign);
      for (const [id, { worker }] of this.workers) {
        if (ids.has(id)) continue;
        this.workers.delete(id);
        await worker.close();
      }
    } catch (err) {
      this.logger.warn(`could not reconcile notice workers: ${(err as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.reconciling;
    await Promise.all([...this.workers.values()].map(({ worker }) => worker.close()));
    this.workers.clear();
  }
}
