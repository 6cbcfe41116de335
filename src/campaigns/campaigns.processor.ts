import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { ManagerDigestService } from '../notifications/digest/manager-digest.service.js';
import { NoticeQueueService } from '../notifications/notices/notice-queue.service.js';
import { ReminderFeedService } from '../notifications/notices/reminder-feed.service.js';
import { NoticeWorkersService } from '../notifications/notices/notice-workers.service.js';
import { HandlesJob, handlerOf } from '../queues/job-handlers.js';
import { type CampaignJob, JOBS, QUEUES, feedJobId } from '../queues/queue-names.js';
import { CampaignFlaggingService } from './campaign-flagging.service.js';

/** Flagging, notice and reminder feeding, digests. Each reads its progress from the database, so rerunning one is harmless. */
@Processor(QUEUES.campaigns, { concurrency: 4 })
export class CampaignsProcessor extends WorkerHost {
  constructor(
    private readonly flagging: CampaignFlaggingService,
    private readonly noticeQueues: NoticeQueueService,
    private readonly noticeWorkers: NoticeWorkersService,
    private readonly reminders: ReminderFeedService,
    private readonly digests: ManagerDigestService,
    @InjectQueue(QUEUES.campaigns) private readonly queue: Queue<CampaignJob>,
  ) {
    super();
  }

  // Feeding only ever runs as the feed job: its fixed id keeps one feeder per campaign across all workers.
  private requestFeed = async (campaignId: number): Promise<void> => {
    await this.queue.add(JOBS.feedNotices, { campaignId }, { jobId: feedJobId(campaignId), removeOnComplete: true, removeOnFail: true });
  };

  async process(job: Job<CampaignJob>): Promise<unknown> {
    await this.noticeWorkers.reconcile();
    const handle = handlerOf<[number], Promise<unknown>>(this, job.name);
    if (!handle) throw new Error(`unknown campaigns job ${job.name}`);
    return handle(job.data.campaignId);
  }

  @HandlesJob(JOBS.launchCampaign)
  async launch(campaignId: number): Promise<void> {
    await this.flagging.flagRemaining(campaignId, () => this.requestFeed(campaignId));
    return this.requestFeed(campaignId);
  }

  @HandlesJob(JOBS.feedNotices)
  feed(campaignId: number): Promise<unknown> {
    return this.noticeQueues.feed(campaignId);
  }

  @HandlesJob(JOBS.feedReminders)
  feedReminders(campaignId: number): Promise<unknown> {
    return this.reminders.feed(campaignId);
  }

  @HandlesJob(JOBS.sendDigest)
  sendDigest(campaignId: number): Promise<number> {
    return this.digests.sendDue(campaignId);
  }
}
