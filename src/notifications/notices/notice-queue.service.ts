import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import { REACHABLE_EMAIL } from '../../accounts/reachable-email.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { CampaignStatus } from '../../generated/prisma/enums.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';
import { JOBS, type SendNoticeJob, noticeJobId, noticeQueueName } from '../../queues/queue-names.js';
import { redisConnectionOptions } from '../../queues/queues.module.js';
import { RedisService } from '../../redis/redis.module.js';
import { queueLimitFor } from './notice-rate.js';

export const NO_VERIFIED_EMAIL = 'no verified email address: use the admin-assisted path';
/** An account disabled at its source after it was flagged: it is not sent a notice. */
export const ACCOUNT_DISABLED = 'not sent: the account is disabled (suspended or blocked at its source)';

/** States of a notice job that still hold Redis memory and will still be sent. */
const BACKLOG_STATES = ['wait', 'delayed', 'prioritized', 'active', 'waiting-children'] as const;

/**
 * Each campaign's notice queue. The database is the source of truth: the queue holds at most a window of jobs ahead of
 * the throttle, fed from the campaign's `flagged` rows, and can be rebuilt from them at any time.
 */
@Injectable()
export class NoticeQueueService implements OnModuleDestroy {
  private readonly queues = new Map<number, Queue<SendNoticeJob>>();

  constructor(
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly redis: RedisService,
  ) {}

  queue(campaignId: number): Queue<SendNoticeJob> {
    let queue = this.queues.get(campaignId);
    if (!queue) {
      queue = new Queue<SendNoticeJob>(noticeQueueName(campaignId), {
        connection: redisConnectionOptions(this.config.redis.url),
        prefix: this.config.redis.queuePrefix,
      });
      queue.on('error', () => undefined);
      this.queues.set(campaignId, queue);
    }
    return queue;
  }

  /** Makes the queue's global rate limit and paused flag match the campaign row (Redis may have lost them). */
  async applyState(campaign: { id: number; status: CampaignStatus; noticeRate: number }): Promise<void> {
    const queue = this.queue(campaign.id);
    const wanted = queueLimitFor(campaign.noticeRate);
    const current = await queue.getGlobalRateLimit();
    if (current?.max !== wanted.max || current?.duration !== wanted.duration) {
      await queue.setGlobalRateLimit(wanted.max, wanted.duration);
      // The limiter's open window keeps the length it began with: after a raise from a slow rate it held the workers
      // for seconds (4.5 s at 1/s). It ends within one new window instead; the jobs it counted still count.
      await this.redis.pexpire(queue.keys.limiter, wanted.duration, 'LT');
    }
    const paused = await queue.isPaused();
    if (campaign.status === 'running' && paused) await queue.resume();
    if (campaign.status !== 'running' && !paused) await queue.pause();
  }

  async backlog(campaignId: number): Promise<number> {
    const counts = await this.queue(campaignId).getJobCounts(...BACKLOG_STATES);
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Removes a finished or cancelled campaign's queue and everything in it. */
  async discard(campaignId: number): Promise<void> {
    const queue = this.queue(campaignId);
    await queue.obliterate({ force: true });
    this.queues.delete(campaignId);
    await queue.close();
  }

  private jobOptions(campaignId: number, accountId: number) {
    return {
      jobId: noticeJobId(campaignId, accountId),
      attempts: this.config.campaigns.noticeMaxAttempts,
      backoff: { type: 'exponential' as const, delay: this.config.campaigns.noticeRetryDelayMs },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  private async enqueue(campaignId: number, accountIds: number[]): Promise<void> {
    for (let i = 0; i < accountIds.length; i += 1000) {
      await this.queue(campaignId).addBulk(
        accountIds.slice(i, i + 1000).map((accountId) => ({
          name: JOBS.sendNotice,
          data: { campaignId, accountId },
          opts: this.jobOptions(campaignId, accountId),
        })),
      );
    }
  }

  /** How many jobs a campaign keeps queued: a minute ahead of its throttle, within NOTICE_QUEUE_MAX. */
  windowSize(noticeRate: number): number {
    return Math.min(this.config.campaigns.noticeQueueMax, Math.max(1000, noticeRate * 60));
  }

  /**
   * Tops the campaign's queue up to its window from the `flagged` rows after notice_cursor. When a pass reaches the
   * end, flagging is done and the queue has drained, rows still `flagged` lost their job (a Redis restart, a skipped
   * send) and a new pass starts from the beginning. Accounts without a verified email go to notice_failed here.
   * Safe to run twice at once: job ids are per campaign+account and the sender re-checks the row.
   */
  async feed(campaignId: number): Promise<{ queued: number; unreachable: number }> {
    const result = { queued: 0, unreachable: 0 };
    const campaign = await this.prisma.campaign.findUnique({ where: { id: campaignId } });
    if (!campaign || campaign.status !== 'running') return result;
    await this.applyState(campaign);
    const window = this.windowSize(campaign.noticeRate);
    let backlog = await this.backlog(campaignId);
    if (backlog > window / 2) return result;
    let cursor = campaign.noticeCursor;
    let restarted = false;
    for (;;) {
      const room = window - backlog;
      const rows = await this.prisma.$queryRaw<{ account_id: number; reachable: boolean }[]>(Prisma.sql`
        SELECT ca.account_id, ${REACHABLE_EMAIL} AS reachable
        FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
        WHERE ca.campaign_id = ${campaignId} AND ca.state = 'flagged' AND ca.account_id > ${cursor}
        ORDER BY ca.account_id LIMIT ${room}`);
      if (!rows.length) {
        if (restarted || cursor === 0 || !campaign.flaggingDoneAt || backlog > 0) return result;
        const [{ flagged }] = await this.prisma.$queryRaw<{ flagged: boolean }[]>(
          Prisma.sql`SELECT EXISTS (SELECT 1 FROM campaign_accounts WHERE campaign_id = ${campaignId} AND state = 'flagged') AS flagged`,
        );
        if (!flagged) return result;
        cursor = 0;
        restarted = true;
        await this.prisma.campaign.update({ where: { id: campaignId }, data: { noticeCursor: 0 } });
        continue;
      }
      const reachable = rows.filter((r) => r.reachable).map((r) => r.account_id);
      const unreachable = rows.filter((r) => !r.reachable).map((r) => r.account_id);
      await this.enqueue(campaignId, reachable);
      cursor = rows[rows.length - 1].account_id;
      const failed = await this.prisma.$transaction(async (tx) => {
        const moved = unreachable.length ? await this.progress.advance(tx, campaignId, unreachable, 'notice_failed', { noticeError: NO_VERIFIED_EMAIL }) : [];
        await tx.campaign.update({ where: { id: campaignId }, data: { noticeCursor: cursor } });
        return moved.length;
      });
      if (failed) this.metrics.notices.inc({ campaign_id: campaignId, result: 'failed', reply_class: 'no_verified_email' }, failed);
      result.queued += reachable.length;
      result.unreachable += unreachable.length;
      backlog += reachable.length;
      if (backlog >= window) return result;
    }
  }

  /** Queues the campaign's notice_failed accounts that have a verified email again; returns how many. */
  async requeueFailed(campaignId: number): Promise<{ requeued: number; withoutVerifiedEmail: number }> {
    await this.applyState(await this.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } }));
    let after = 0;
    const result = { requeued: 0, withoutVerifiedEmail: 0 };
    for (;;) {
      const rows = await this.prisma.$queryRaw<{ account_id: number; reachable: boolean }[]>(Prisma.sql`
        SELECT ca.account_id, ${REACHABLE_EMAIL} AS reachable
        FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
        WHERE ca.campaign_id = ${campaignId} AND ca.state = 'notice_failed' AND ca.account_id > ${after}
        ORDER BY ca.account_id LIMIT 5000`);
      if (!rows.length) return result;
      const reachable = rows.filter((r) => r.reachable).map((r) => r.account_id);
      await this.enqueue(campaignId, reachable);
      result.requeued += reachable.length;
      result.withoutVerifiedEmail += rows.length - reachable.length;
      after = rows[rows.length - 1].account_id;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
