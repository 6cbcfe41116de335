import { Readable } from 'node:stream';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  StreamableFile,
  UnprocessableEntityException,
} from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { isEmail } from 'class-validator';
import { ApplicationEventsService } from '../application-events/application-events.service.js';
import { REACHABLE_EMAIL } from '../accounts/reachable-email.js';
import { canonicalUsername } from '../accounts/identity.js';
import { AuditService } from '../audit/audit.service.js';
import { csvRow } from '../common/csv.js';
import { type Campaign, Prisma } from '../generated/prisma/client.js';
import type { CampaignStatus, ProgressState } from '../generated/prisma/enums.js';
import { type DomainRates, formatDomainRates, parseDomainRates } from '../notifications/notices/domain-rates.js';
import { findLinks, describeProblems, type LinkProblem } from '../notifications/link-free.js';
import { NoticeQueueService } from '../notifications/notices/notice-queue.service.js';
import { ManagerDigestService } from '../notifications/digest/manager-digest.service.js';
import { REMINDER_TEMPLATE, formatReminderSchedule, parseReminderSchedule } from '../notifications/notices/reminder-schedule.js';
import { NoticeRendererService, type NoticeRecipient } from '../notifications/notices/notice-renderer.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CoalescedReads } from '../common/coalesced-reads.js';
import { COUNTS_COLUMN, CampaignProgressService, countsFromColumn } from '../progress/campaign-progress.service.js';
import { OPEN_STATES, type StateCounts, isOpenState } from '../progress/progress-states.js';
import { type CampaignJob, JOBS, QUEUES, digestJobId, feedJobId, feedRemindersJobId, launchJobId } from '../queues/queue-names.js';
import { CampaignFlaggingService } from './campaign-flagging.service.js';
import { type CampaignGaps, type PreResetPaths, describeGaps, hasGaps, scopeCounts, unknownUsernamesFrom } from './campaign-gaps.js';
import { newCampaignPhrase } from './campaign-phrase.js';
import { scopeCondition } from './campaign-scope.js';
import type { CreateCampaignDto } from './dto/create-campaign.dto.js';
import type { ListCampaignAccountsQuery } from './dto/list-campaign-accounts.query.js';
import type { UpdateCampaignDto } from './dto/update-campaign.dto.js';

type Tx = Prisma.TransactionClient;

const USERNAME_CHUNK = 10_000;
const ALREADY_LAUNCHED_HINT: Partial<Record<CampaignStatus, string>> = {
  running: ': pause it with `resetctl campaign pause`',
  paused: ': continue it with `resetctl campaign resume`',
};
const CSV_PAGE = 5_000;

export interface CampaignPreview {
  toFlag: number;
  withoutVerifiedEmail: number;
  usernamesNotFound?: { count: number; sample: string[] };
  /** Who would be left out, each its own number; launch refuses while any is non-zero unless accepted. */
  gaps: CampaignGaps;
  /** How the accounts that can reach the pre-reset page get there. */
  reachPreResetBy: PreResetPaths;
  notice: { subject: string; text: string; html: string };
  linkCheck: { ok: boolean; problems: LinkProblem[] };
}

export interface CampaignProgress {
  id: number;
  status: CampaignStatus;
  noticeRate: number;
  flaggingDone: boolean;
  total: number;
  open: number;
  counts: StateCounts;
}

export interface CampaignAccountRow {
  accountId: number;
  username: string;
  email: string | null;
  state: ProgressState;
  flaggedAt: Date;
  noticeSentAt: Date | null;
  noticeFailedAt: Date | null;
  noticeAttempts: number;
  noticeError: string | null;
  preResetAt: Date | null;
  linkSentAt: Date | null;
  completedAt: Date | null;
}

const ACCOUNT_COLUMNS: Array<keyof CampaignAccountRow> = [
  'accountId', 'username', 'email', 'state', 'flaggedAt', 'noticeSentAt', 'noticeFailedAt', 'noticeAttempts', 'noticeError',
  'preResetAt', 'linkSentAt', 'completedAt',
];

function sumCounts(counts: StateCounts, states?: readonly ProgressState[]): number {
  return Object.entries(counts).reduce((sum, [state, n]) => (!states || states.includes(state as ProgressState) ? sum + n : sum), 0);
}

/**
 * Campaign lifecycle: draft → running ⇄ paused → completed | cancelled. Every responder action is audited in the same
 * transaction as its state change. A campaign completes when every flagged account has reset (see sweep); until then
 * it stays running even when every notice has gone out, because the users have not acted yet.
 */
@Injectable()
export class CampaignsService {
  private readonly logger = new Logger(CampaignsService.name);
  /** Polling clients of one campaign share its progress query; no answer is older than its request. */
  private readonly progressReads = new CoalescedReads<CampaignProgress>();

  constructor(
    private readonly prisma: PrismaService,
    private readonly audit: AuditService,
    private readonly progress: CampaignProgressService,
    private readonly events: ApplicationEventsService,
    private readonly flagging: CampaignFlaggingService,
    private readonly renderer: NoticeRendererService,
    private readonly noticeQueues: NoticeQueueService,
    private readonly digests: ManagerDigestService,
    @InjectQueue(QUEUES.campaigns) private readonly campaignsQueue: Queue<CampaignJob>,
  ) {}

  async create(input: CreateCampaignDto, actor: string): Promise<{ campaign: Campaign; preview: CampaignPreview }> {
    const template = input.template ?? 'breach-notice';
    if (!this.renderer.templateExists(template)) throw new BadRequestException(`no notice template "${template}" in templates/mail`);
    if (input.scope === 'usernames' && !input.usernames?.length) throw new BadRequestException('scope "usernames" needs a list of usernames');
    if (input.scope === 'org_unit' && !input.orgUnit) throw new BadRequestException('scope "org_unit" needs an org unit');
    if (input.scope !== 'usernames' && input.usernames) throw new BadRequestException('usernames are only accepted with scope "usernames"');
    if (input.scope !== 'org_unit' && input.orgUnit) throw new BadRequestException('orgUnit is only accepted with scope "org_unit"');
    const problems = [...findLinks('incidentRef', input.incidentRef), ...findLinks('reason', input.reason)];
    if (problems.length) throw new BadRequestException(`notices must contain no link; remove: ${describeProblems(problems)}`);
    const domainRates = this.domainRates(input.domainRates);
    const reminderOffsets = this.reminderOffsets(input.reminders);
    const digestTo = this.managers(input.digestTo ?? []);
    const usernames = [...new Set((input.usernames ?? []).map(canonicalUsername).filter(Boolean))];

    const campaign = await this.prisma.$transaction(
      async (tx) => {
        const created = await tx.campaign.create({
          data: {
            name: input.name,
            incidentRef: input.incidentRef,
            reason: input.reason,
            scope: input.scope,
            scopeOrgUnit: input.orgUnit ?? null,
            noticeRate: input.noticeRate ?? 50,
            domainRates,
            linkTtlMinutes: input.linkTtlMinutes ?? 30,
            template,
            reminderOffsets,
            maxReminders: input.maxReminders ?? null,
            digestTo,
            phrase: newCampaignPhrase(),
            createdBy: actor,
          },
        });
        for (let i = 0; i < usernames.length; i += USERNAME_CHUNK) {
          await tx.$executeRaw(Prisma.sql`
            INSERT INTO campaign_scope_usernames (campaign_id, username)
            SELECT ${created.id}, u FROM unnest(${usernames.slice(i, i + USERNAME_CHUNK)}::text[]) AS u
            ON CONFLICT DO NOTHING`);
        }
        await this.audit.record(tx, {
          actor,
          action: 'campaign.create',
          campaignId: created.id,
          details: {
            name: created.name,
            incidentRef: created.incidentRef,
            scope: created.scope,
            orgUnit: created.scopeOrgUnit,
            usernames: usernames.length || undefined,
            noticeRate: created.noticeRate,
            domainRates: Object.keys(domainRates).length ? formatDomainRates(domainRates) : undefined,
            linkTtlMinutes: created.linkTtlMinutes,
            template,
            reminders: reminderOffsets.length ? formatReminderSchedule(reminderOffsets) : undefined,
            maxReminders: created.maxReminders ?? undefined,
            // How many managers, not who: the audit log is exported into incident records.
            digestManagers: digestTo.length || undefined,
          },
        });
        return created;
      },
      { maxWait: 10_000, timeout: 120_000 },
    );
    return { campaign, preview: await this.preview(campaign.id) };
  }

  private domainRates(text: string | undefined): DomainRates {
    try {
      return parseDomainRates(text ?? '');
    } catch (err) {
      throw new BadRequestException(`domainRates: ${(err as Error).message}`);
    }
  }

  /** The CLI reaches the service without the HTTP validation pipe, so the addresses are checked here too. */
  private managers(addresses: string[]): string[] {
    const bad = addresses.filter((a) => !isEmail(a));
    if (bad.length) throw new BadRequestException(`digestTo: not an email address: ${bad.slice(0, 5).join(', ')}`);
    return [...new Set(addresses)];
  }

  private reminderOffsets(text: string | undefined): number[] {
    try {
      return parseReminderSchedule(text ?? '');
    } catch (err) {
      throw new BadRequestException(`reminders: ${(err as Error).message}`);
    }
  }

  /** The notice template's link check, and the reminder template's when the campaign has reminders. */
  private templateProblems(campaign: Campaign, sample?: NoticeRecipient): { sample: ReturnType<NoticeRendererService['checkTemplate']>['sample']; problems: LinkProblem[] } {
    const notice = this.renderer.checkTemplate(campaign, sample);
    if (!campaign.reminderOffsets.length) return notice;
    const reminder = this.renderer.checkTemplate({ ...campaign, template: REMINDER_TEMPLATE }, sample);
    return { sample: notice.sample, problems: [...notice.problems, ...reminder.problems.map((p) => ({ ...p, part: `reminder ${p.part}` }))] };
  }

  async find(id: number): Promise<Campaign> {
    const campaign = await this.prisma.campaign.findUnique({ where: { id } });
    if (!campaign) throw new NotFoundException(`no campaign ${id}`);
    return campaign;
  }

  list(): Promise<Campaign[]> {
    return this.prisma.campaign.findMany({ orderBy: { id: 'desc' }, take: 500 });
  }

  async get(id: number): Promise<Campaign & { progress: CampaignProgress }> {
    return { ...(await this.find(id)), progress: await this.progressOf(id) };
  }

  /** What launching would do: accounts in scope, who would be left out, a sample notice and the link check. */
  async preview(id: number): Promise<CampaignPreview> {
    const campaign = await this.find(id);
    const scope = scopeCondition(campaign);
    const { inScope, gaps, paths } = await scopeCounts(this.prisma, campaign);
    const [first] = await this.prisma.$queryRaw<NoticeRecipient[]>(Prisma.sql`
      SELECT a.id, a.username, a.display_name AS "displayName", a.locale FROM accounts a WHERE ${scope} ORDER BY a.id LIMIT 1`);
    const { sample, problems } = this.templateProblems(campaign, first);
    const preview: CampaignPreview = {
      toFlag: inScope,
      withoutVerifiedEmail: gaps.withoutVerifiedEmail,
      gaps,
      reachPreResetBy: paths,
      notice: { subject: sample.subject, text: sample.text, html: sample.html },
      linkCheck: { ok: problems.length === 0, problems },
    };
    if (campaign.scope === 'usernames') {
      const rows = await this.prisma.$queryRaw<{ username: string }[]>(Prisma.sql`SELECT s.username ${unknownUsernamesFrom(id)} ORDER BY s.username LIMIT 100`);
      preview.usernamesNotFound = { count: gaps.unknownUsernames, sample: rows.map((r) => r.username) };
    }
    return preview;
  }

  /** Every username of the campaign's list that matches no account, as CSV, in keyset pages. */
  async unknownUsernamesCsv(id: number): Promise<StreamableFile> {
    await this.find(id);
    const page = (after: string) =>
      this.prisma.$queryRaw<{ username: string }[]>(
        Prisma.sql`SELECT s.username ${unknownUsernamesFrom(id)} AND s.username > ${after} ORDER BY s.username LIMIT ${CSV_PAGE}`,
      );
    async function* lines(): AsyncGenerator<string> {
      yield csvRow(['username']);
      let after = '';
      for (;;) {
        const rows = await page(after);
        for (const row of rows) yield csvRow([row.username]);
        if (rows.length < CSV_PAGE) return;
        after = rows[rows.length - 1].username;
      }
    }
    return new StreamableFile(Readable.from(lines()), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="campaign-${id}-unknown-usernames.csv"`,
    });
  }

  private async lock(tx: Tx, id: number): Promise<Campaign> {
    const rows = await tx.$queryRaw<{ id: number }[]>(Prisma.sql`SELECT id FROM campaigns WHERE id = ${id} FOR UPDATE`);
    if (!rows.length) throw new NotFoundException(`no campaign ${id}`);
    return tx.campaign.findUniqueOrThrow({ where: { id } });
  }

  /** Queue state follows the database; if Redis is unreachable now, the workers' sweep catches up later. */
  private async syncQueues(campaign: Campaign, jobs: Array<'launch' | 'feed' | 'reminders' | 'digest'> = []): Promise<void> {
    try {
      await this.noticeQueues.applyState(campaign);
      const options = { removeOnComplete: true, removeOnFail: true };
      if (jobs.includes('launch') && !campaign.flaggingDoneAt) {
        await this.campaignsQueue.add(JOBS.launchCampaign, { campaignId: campaign.id }, { ...options, jobId: launchJobId(campaign.id) });
      }
      if (jobs.includes('feed')) {
        await this.campaignsQueue.add(JOBS.feedNotices, { campaignId: campaign.id }, { ...options, jobId: feedJobId(campaign.id) });
      }
      if (jobs.includes('reminders') && campaign.reminderOffsets.length && campaign.flaggingDoneAt) {
        await this.campaignsQueue.add(JOBS.feedReminders, { campaignId: campaign.id }, { ...options, jobId: feedRemindersJobId(campaign.id) });
      }
      if (jobs.includes('digest') && this.digests.isDue(campaign)) {
        await this.campaignsQueue.add(JOBS.sendDigest, { campaignId: campaign.id }, { ...options, jobId: digestJobId(campaign.id) });
      }
    } catch (err) {
      this.logger.warn(`campaign ${campaign.id}: queue update deferred to the next sweep: ${(err as Error).message}`);
    }
  }

  /**
   * Starts flagging and notices of a draft; any other status is a 409 that says what the campaign is doing (the sweep
   * restarts interrupted flagging by itself). A draft that would leave people out (see CampaignGaps) is only launched
   * with `acceptGaps`, so the responder decides with the numbers in front of them. With `canary` the campaign pauses
   * itself after that many notices (see the sender), so a real one can be read before the rest go.
   */
  async launch(id: number, actor: string, options: { acceptGaps?: boolean; canary?: number } = {}): Promise<Campaign & { progress: CampaignProgress }> {
    const draft = await this.find(id);
    if (draft.status === 'draft') {
      const { problems } = this.templateProblems(draft);
      if (problems.length) {
        throw new UnprocessableEntityException({ message: `the notice template fails the link check: ${describeProblems(problems)}`, problems });
      }
    }
    const campaign = await this.prisma.$transaction(async (tx) => {
      const current = await this.lock(tx, id);
      if (current.status !== 'draft') throw new ConflictException(`campaign ${id} was already launched and is ${current.status}${ALREADY_LAUNCHED_HINT[current.status] ?? ''}`);
      const { inScope: n, gaps } = await scopeCounts(tx, current);
      if (!n) throw new BadRequestException(`campaign ${id}'s scope matches no accounts`);
      if (hasGaps(gaps) && !options.acceptGaps) {
        throw new ConflictException({
          statusCode: 409,
          error: 'Conflict',
          message: `campaign ${id} would leave people out: ${describeGaps(gaps)}. Launch with --accept-gaps (API: {"acceptGaps": true}) to go ahead`,
          gaps,
        });
      }
      const launched = await tx.campaign.update({ where: { id }, data: { status: 'running', launchedAt: new Date(), canaryRemaining: options.canary ?? null } });
      await this.audit.record(tx, {
        actor,
        action: 'campaign.launch',
        campaignId: id,
        details: { accountsInScope: n, noticeRate: launched.noticeRate, gaps, acceptedGaps: hasGaps(gaps), canary: options.canary },
      });
      return launched;
    });
    await this.syncQueues(campaign, ['launch', 'feed']);
    return this.get(id);
  }

  private async transition(
    id: number,
    actor: string,
    action: string,
    from: CampaignStatus[],
    change: (current: Campaign) => Prisma.CampaignUpdateInput,
    details: Record<string, unknown> = {},
  ): Promise<Campaign> {
    return this.prisma.$transaction(async (tx) => {
      const current = await this.lock(tx, id);
      if (!from.includes(current.status)) throw new ConflictException(`campaign ${id} is ${current.status}; ${action.split('.')[1]} needs ${from.join(' or ')}`);
      const updated = await tx.campaign.update({ where: { id }, data: change(current) });
      const counts = await this.progress.counts(id, tx);
      await this.audit.record(tx, { actor, action, campaignId: id, details: { from: current.status, ...details, counts } });
      return updated;
    });
  }

  /** Stops sending at once: no new notice starts after this returns (a send already talking to the server finishes). */
  async pause(id: number, actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    const campaign = await this.transition(id, actor, 'campaign.pause', ['running'], () => ({ status: 'paused' }));
    await this.syncQueues(campaign);
    return this.get(id);
  }

  async resume(id: number, actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    // A canary that has sent its notices is over: the rest go. One paused before that keeps its remaining count.
    const campaign = await this.transition(id, actor, 'campaign.resume', ['paused'], (c) => ({
      status: 'running',
      canaryRemaining: c.canaryRemaining === 0 ? null : c.canaryRemaining,
    }));
    await this.syncQueues(campaign, ['launch', 'feed', 'reminders']);
    return this.get(id);
  }

  /** PATCH: the rate, the reminder schedule and the digest's managers, each audited as its own change. */
  async update(id: number, changes: UpdateCampaignDto, actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    const { noticeRate, reminders, maxReminders, digestTo } = changes;
    if (noticeRate === undefined && reminders === undefined && maxReminders === undefined && digestTo === undefined) {
      throw new BadRequestException('give at least one of noticeRate, reminders, maxReminders, digestTo');
    }
    if (reminders !== undefined || maxReminders !== undefined) await this.setReminders(id, { reminders, maxReminders }, actor);
    if (digestTo !== undefined) await this.setDigest(id, digestTo, actor);
    return noticeRate === undefined ? this.get(id) : this.setRate(id, noticeRate, actor);
  }

  /**
   * Changes the reminder schedule, also while running: offsets still count from launch, reminders already started
   * stay as they went, and the next one is the first offset of the new schedule not yet reached.
   */
  async setReminders(id: number, input: { reminders?: string; maxReminders?: number | null }, actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    const offsets = input.reminders === undefined ? undefined : this.reminderOffsets(input.reminders);
    const campaign = await this.transition(
      id,
      actor,
      'campaign.reminders',
      ['draft', 'running', 'paused'],
      () => ({ ...(offsets && { reminderOffsets: offsets }), ...(input.maxReminders !== undefined && { maxReminders: input.maxReminders }) }),
      { reminders: offsets && formatReminderSchedule(offsets), maxReminders: input.maxReminders },
    );
    if (campaign.status === 'running') await this.syncQueues(campaign, ['reminders']);
    return this.get(id);
  }

  async setDigest(id: number, digestTo: string[], actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    const managers = this.managers(digestTo);
    await this.transition(id, actor, 'campaign.digest', ['draft', 'running', 'paused'], () => ({ digestTo: managers }), { digestManagers: managers.length });
    return this.get(id);
  }

  async setRate(id: number, noticeRate: number, actor: string): Promise<Campaign & { progress: CampaignProgress }> {
    const campaign = await this.transition(id, actor, 'campaign.rate', ['draft', 'running', 'paused'], () => ({ noticeRate }), { noticeRate });
    if (campaign.status !== 'draft') await this.syncQueues(campaign, ['feed']);
    return this.get(id);
  }

  /**
   * Stops sending, moves every open account to `cancelled` and, with clearMustReset, lifts must-reset from accounts
   * that have not reset and revokes their unused links. Running it again on a cancelled campaign finishes an
   * interrupted cancellation (or clears must-reset later).
   */
  async cancel(id: number, clearMustReset: boolean, actor: string) {
    await this.transition(id, actor, 'campaign.cancel', ['draft', 'running', 'paused', 'cancelled'], (c) => ({
      status: 'cancelled',
      cancelledAt: c.cancelledAt ?? new Date(),
    }), { clearMustReset });
    await this.discardQueue(id);
    const { cleared } = await this.flagging.unflag(id, clearMustReset);
    // A worker's sweep may finish part of the cancellation at the same time, so the count comes from the counters,
    // not from the rows this call happened to move.
    const result = { cancelled: (await this.progress.counts(id)).cancelled, cleared };
    await this.audit.recordNow({ actor, action: 'campaign.cancelled', campaignId: id, details: { ...result, clearMustReset } });
    return { ...(await this.get(id)), ...result };
  }

  private async discardQueue(id: number): Promise<void> {
    try {
      await this.noticeQueues.discard(id);
    } catch (err) {
      this.logger.warn(`campaign ${id}: could not remove its notice queue yet: ${(err as Error).message}`);
    }
  }

  /** The campaign's status and counters in one query. */
  progressOf(id: number): Promise<CampaignProgress> {
    return this.progressReads.read(String(id), async () => {
      const [row] = await this.prisma.$queryRaw<{ status: CampaignStatus; noticeRate: number; flaggingDone: boolean; counts: Partial<StateCounts> }[]>(Prisma.sql`
        SELECT c.status::text AS status, c.notice_rate AS "noticeRate", c.flagging_done_at IS NOT NULL AS "flaggingDone",
               ${COUNTS_COLUMN}
        FROM campaigns c WHERE c.id = ${id}`);
      if (!row) throw new NotFoundException(`no campaign ${id}`);
      const counts = countsFromColumn(row.counts);
      return { id, status: row.status, noticeRate: row.noticeRate, flaggingDone: row.flaggingDone, total: sumCounts(counts), open: sumCounts(counts, OPEN_STATES), counts };
    });
  }

  private async accountRows(id: number, state: ProgressState | undefined, after: number, limit: number): Promise<CampaignAccountRow[]> {
    return this.prisma.$queryRaw<CampaignAccountRow[]>(Prisma.sql`
      SELECT ca.account_id AS "accountId", a.username, a.email, ca.state, ca.flagged_at AS "flaggedAt",
             ca.notice_sent_at AS "noticeSentAt", ca.notice_failed_at AS "noticeFailedAt", ca.notice_attempts AS "noticeAttempts",
             ca.notice_error AS "noticeError", ca.pre_reset_at AS "preResetAt", ca.link_sent_at AS "linkSentAt",
             ca.completed_at AS "completedAt"
      FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
      WHERE ca.campaign_id = ${id} ${state ? Prisma.sql`AND ca.state = ${state}::"ProgressState"` : Prisma.empty}
        AND ca.account_id > ${after}
      ORDER BY ca.account_id LIMIT ${limit}`);
  }

  async accountsPage(id: number, query: ListCampaignAccountsQuery): Promise<{ items: CampaignAccountRow[]; nextAfter: number | null }> {
    await this.find(id);
    const limit = query.limit ?? 100;
    const items = await this.accountRows(id, query.state, query.after ?? 0, limit);
    return { items, nextAfter: items.length === limit ? items[items.length - 1].accountId : null };
  }

  /** Every matching account as CSV, streamed page by page (formula-looking cells neutralised by csvRow). */
  async accountsCsv(id: number, query: ListCampaignAccountsQuery): Promise<StreamableFile> {
    await this.find(id);
    const rows = (after: number) => this.accountRows(id, query.state, after, CSV_PAGE);
    async function* lines(): AsyncGenerator<string> {
      yield csvRow(ACCOUNT_COLUMNS);
      let after = query.after ?? 0;
      for (;;) {
        const page = await rows(after);
        for (const row of page) yield csvRow(ACCOUNT_COLUMNS.map((c) => row[c]));
        if (page.length < CSV_PAGE) return;
        after = page[page.length - 1].accountId;
      }
    }
    return new StreamableFile(Readable.from(lines()), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="campaign-${id}-accounts${query.state ? `-${query.state}` : ''}.csv"`,
    });
  }

  /** Queues every failed notice again (accounts whose address is now verified); the throttle still applies. */
  async retryFailed(id: number, actor: string): Promise<{ requeued: number; withoutVerifiedEmail: number }> {
    const campaign = await this.find(id);
    if (campaign.status !== 'running' && campaign.status !== 'paused') throw new ConflictException(`campaign ${id} is ${campaign.status}; retry needs running or paused`);
    const result = await this.noticeQueues.requeueFailed(id);
    await this.audit.recordNow({ actor, action: 'notices.retry', campaignId: id, details: result });
    return result;
  }

  /** Marks the campaign completed once flagging is done and no account is open any more; false when not yet. */
  async completeIfDone(id: number): Promise<boolean> {
    const completed = await this.prisma.$transaction(async (tx) => {
      const current = await this.lock(tx, id);
      if ((current.status !== 'running' && current.status !== 'paused') || !current.flaggingDoneAt) return false;
      const counts = await this.progress.counts(id, tx);
      if (sumCounts(counts, OPEN_STATES) > 0 || sumCounts(counts) === 0) return false;
      await tx.campaign.update({ where: { id }, data: { status: 'completed', completedAt: new Date() } });
      await this.audit.record(tx, { actor: 'system', action: 'campaign.completed', campaignId: id, details: { counts } });
      await this.events.recordCampaignCompleted(tx, id);
      return true;
    });
    if (completed) await Promise.all([this.discardQueue(id), this.events.dispatch()]);
    return completed;
  }

  /**
   * Rebuilds queue state from the database: restarts interrupted flagging, tops up notice queues, starts and feeds due
   * reminders, queues due digests, restores rate limits and pause flags Redis may have lost, completes finished
   * campaigns and finishes interrupted cancellations.
   */
  async sweep(): Promise<void> {
    const active = await this.prisma.campaign.findMany({ where: { status: { in: ['running', 'paused'] } } });
    for (const campaign of active) {
      if (await this.completeIfDone(campaign.id)) continue;
      await this.syncQueues(campaign, campaign.status === 'running' ? ['launch', 'feed', 'reminders', 'digest'] : ['launch', 'digest']);
    }
    const cancelling = await this.prisma.$queryRaw<{ id: number }[]>(Prisma.sql`
      SELECT c.id FROM campaigns c WHERE c.status = 'cancelled' AND EXISTS (
        SELECT 1 FROM campaign_state_counts s WHERE s.campaign_id = c.id AND ${isOpenState('s.state')} AND s.count > 0)`);
    for (const { id } of cancelling) await this.flagging.unflag(id, false);
  }
}
