import { Inject, Injectable } from '@nestjs/common';
import { REACHABLE_EMAIL } from '../../accounts/reachable-email.js';
import { AuditService } from '../../audit/audit.service.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { Prisma } from '../../generated/prisma/client.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { JOBS, reminderJobId } from '../../queues/queue-names.js';
import { NoticeQueueService } from './notice-queue.service.js';
import { REMINDED_STATES, dueReminders } from './reminder-schedule.js';

const remindable = Prisma.raw(`ca.state IN (${REMINDED_STATES.map((s) => `'${s}'`).join(', ')})`);

/** Accounts of reminder `n` not sent it yet and still worth sending it to (over campaign_accounts `ca`, accounts `a`). */
function pending(campaignId: number, n: number): Prisma.Sql {
  return Prisma.sql`ca.campaign_id = ${campaignId} AND ca.reminder_due = ${n} AND ca.reminders_sent < ${n}
    AND ${remindable} AND NOT a.disabled AND ${REACHABLE_EMAIL}`;
}

/**
 * Starts a campaign's reminders when they fall due and feeds their jobs into the campaign's notice queue, where the
 * campaign's rate and pause hold them like notices. Everything is read from the database on each run (the campaigns
 * sweep runs it on every worker), so a lost queue or a restarted worker loses nothing, and two runs at once are harmless.
 */
@Injectable()
export class ReminderFeedService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly queues: NoticeQueueService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async feed(campaignId: number, now = new Date()): Promise<{ started?: number; queued: number }> {
    const campaign = await this.prisma.campaign.findUnique({ where: { id: campaignId } });
    if (!campaign || campaign.status !== 'running' || !campaign.flaggingDoneAt) return { queued: 0 };
    const started = await this.startDue(campaignId, dueReminders(campaign.reminderOffsets, campaign.maxReminders, campaign.launchedAt, now));
    const queued = await this.topUp(campaignId, campaign.noticeRate);
    return { started, queued };
  }

  /**
   * Starts reminder `due` unless it (or a later one) has started: its audience is every account that is open,
   * notified, enabled and reachable right now, marked in one statement with the count kept beside it. When several
   * fell due at once (a pause across two offsets), only the latest goes: nobody gets two reminders in a row.
   */
  private async startDue(campaignId: number, due: number): Promise<number | undefined> {
    if (!due) return undefined;
    return this.prisma.$transaction(async (tx) => {
      // The campaign row lock orders this against pause and cancel, and against another worker's feed.
      const [locked] = await tx.$queryRaw<{ status: string }[]>(Prisma.sql`SELECT status::text FROM campaigns WHERE id = ${campaignId} FOR UPDATE`);
      if (locked?.status !== 'running') return undefined;
      const [{ last }] = await tx.$queryRaw<{ last: number }[]>(
        Prisma.sql`SELECT coalesce(max(number), 0)::int AS last FROM campaign_reminders WHERE campaign_id = ${campaignId}`,
      );
      if (due <= last) return undefined;
      const [{ recipients }] = await tx.$queryRaw<{ recipients: number }[]>(Prisma.sql`
        WITH audience AS (
          UPDATE campaign_accounts ca SET reminder_due = ${due}
          FROM accounts a
          WHERE a.id = ca.account_id AND ca.campaign_id = ${campaignId} AND ${remindable} AND NOT a.disabled AND ${REACHABLE_EMAIL}
          RETURNING 1
        ), started AS (
          INSERT INTO campaign_reminders (campaign_id, number, recipients) SELECT ${campaignId}, ${due}, count(*)::int FROM audience
          RETURNING recipients
        )
        SELECT recipients FROM started`);
      await tx.$executeRaw(Prisma.sql`
        UPDATE campaign_reminders SET finished_at = now() WHERE campaign_id = ${campaignId} AND number < ${due} AND finished_at IS NULL`);
      await this.audit.record(tx, { actor: 'system', action: 'campaign.reminder', campaignId, details: { reminder: due, recipients } });
      return due;
    });
  }

  /** Tops the notice queue up with the latest reminder's jobs, like the notice feed: a window ahead of the rate. */
  private async topUp(campaignId: number, noticeRate: number): Promise<number> {
    const round = await this.prisma.campaignReminder.findFirst({ where: { campaignId, finishedAt: null }, orderBy: { number: 'desc' } });
    if (!round) return 0;
    const window = this.queues.windowSize(noticeRate);
    let backlog = await this.queues.backlog(campaignId);
    if (backlog > window / 2) return 0;
    let cursor = round.cursor;
    let queued = 0;
    for (;;) {
      const rows = await this.prisma.$queryRaw<{ account_id: number }[]>(Prisma.sql`
        SELECT ca.account_id FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
        WHERE ${pending(campaignId, round.number)} AND ca.account_id > ${cursor}
        ORDER BY ca.account_id LIMIT ${window - backlog}`);
      if (!rows.length) {
        if (cursor === 0) {
          await this.prisma.campaignReminder.updateMany({ where: { campaignId, number: round.number, finishedAt: null }, data: { finishedAt: new Date() } });
          return queued;
        }
        // A pass reached the end: once its jobs are done, what is still pending lost its job (skipped, or Redis lost it).
        if (backlog > 0) return queued;
        cursor = 0;
        continue;
      }
      await this.queues.queue(campaignId).addBulk(
        rows.map(({ account_id: accountId }) => ({
          name: JOBS.sendReminder,
          data: { campaignId, accountId, reminder: round.number },
          opts: {
            jobId: reminderJobId(campaignId, accountId, round.number),
            attempts: this.config.campaigns.noticeMaxAttempts,
            backoff: { type: 'exponential' as const, delay: this.config.campaigns.noticeRetryDelayMs },
            removeOnComplete: true,
            removeOnFail: true,
          },
        })),
      );
      cursor = rows[rows.length - 1].account_id;
      await this.prisma.campaignReminder.update({ where: { campaignId_number: { campaignId, number: round.number } }, data: { cursor } });
      queued += rows.length;
      backlog += rows.length;
      if (backlog >= window) return queued;
    }
  }
}
