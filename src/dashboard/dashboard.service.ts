import { Injectable, NotFoundException } from '@nestjs/common';
import { type CampaignGaps, scopeCounts } from '../campaigns/campaign-gaps.js';
import { csvRow } from '../common/csv.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Campaign } from '../generated/prisma/client.js';
import type { ProgressState } from '../generated/prisma/enums.js';
import type { AuthenticatedOperator } from '../operators/roles.decorator.js';
import { operatorActor } from '../operators/roles.decorator.js';
import { OPEN_STATES, emptyCounts, type StateCounts } from '../progress/progress-states.js';
import { COUNTS_COLUMN, countsFromColumn } from '../progress/campaign-progress.service.js';
import { CURVE_WIDTHS_S, timeToCompletePercentile } from '../progress/completion-buckets.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { CurvePoint } from './completion-chart.js';
import { type Funnel, funnelFromCounts } from './funnel.js';
import { StaleWhileRevalidateCache } from './stale-cache.js';

export const CURVE_BUCKETS = 48;
export const ORG_UNIT_ROWS = 50;
export const PENDING_PAGE = 25;
const FAILURE_ROWS = 10;
const EXPORT_BATCH = 5000;
/** Gap counts of a running campaign are recomputed at most this often (longer when the query is slow). */
const LIVE_TTL_MS = 5_000;
const FINISHED_TTL_MS = 60_000;
/** Revisit alerts look at the most recent audit entries only: a bounded primary-key range, whatever the log's size. */
/** An account's latest bounce: one probe of notice_bounces' (campaign, account, id) index per listed account. */
const LATEST_BOUNCE = (campaignId: number, accountId: Prisma.Sql) => Prisma.sql`
  SELECT status, kind, received_at FROM notice_bounces
  WHERE campaign_id = ${campaignId} AND account_id = ${accountId} ORDER BY id DESC LIMIT 1`;

const ALERT_WINDOW = 100_000;
const ALERTS_TTL_MS = 10_000;

/** The campaign columns the dashboard shows. */
export type DashboardCampaign = Pick<
  Campaign,
  'id' | 'name' | 'incidentRef' | 'reason' | 'status' | 'noticeRate' | 'domainRates' | 'createdAt' | 'launchedAt' | 'completedAt' | 'cancelledAt'
>;

export interface CampaignSummary {
  campaign: Pick<Campaign, 'id' | 'name' | 'incidentRef' | 'status' | 'createdAt' | 'launchedAt'>;
  funnel: Funnel;
}

export interface OrgUnitRow {
  orgUnit: string;
  total: number;
  completed: number;
  percent: number;
}

/** One reminder as it went out, and the resets in the 48 hours after it. */
export interface ReminderRow {
  number: number;
  startedAt: Date;
  recipients: number;
  sent: number;
  failed: number;
  completedWithin48h: number;
}

export interface CampaignAggregates {
  curve: CurvePoint[];
  start: Date;
  end: Date;
  medianSeconds: number | null;
  p90Seconds: number | null;
  orgUnits: OrgUnitRow[];
  orgUnitCount: number;
  reminders: ReminderRow[];
}

export interface PendingAccount {
  accountId: number;
  username: string;
  email: string | null;
  displayName: string | null;
  orgUnit: string | null;
  state: ProgressState;
  noticeError: string | null;
  flaggedAt: Date;
  /** The latest asynchronous bounce of the account's notice (`5.1.1 failed`, `4.4.1 delayed`), if any. */
  bounce: string | null;
  bouncedAt: Date | null;
}

export interface NoticeFailure {
  accountId: number;
  username: string;
  email: string | null;
  noticeError: string | null;
  noticeAttempts: number;
  noticeFailedAt: Date | null;
  bounce: string | null;
}

export interface RevisitAlert {
  id: number;
  at: Date;
  actor: string;
  details: unknown;
}

/**
 * CURVE_BUCKETS points from `start` (up to now), each the completions before it: whole wall-clock buckets of `width`
 * seconds, and a share of the one it falls in, as if that bucket's completions were spread evenly up to min(its end,
 * now, end). The last point has every completion, as the scan it replaces had.
 */
function curvePoints(buckets: [number, number][], width: number, start: Date, end: Date, now: number): CurvePoint[] {
  const step = (end.getTime() - start.getTime()) / CURVE_BUCKETS;
  const limit = Math.min(now, end.getTime()) / 1000;
  const all = buckets.reduce((sum, [, n]) => sum + n, 0);
  const curve: CurvePoint[] = [];
  for (let b = 1; b <= CURVE_BUCKETS; b++) {
    const at = new Date(start.getTime() + b * step);
    if (at.getTime() > now && curve.length) break;
    const atS = at.getTime() / 1000;
    let cumulative = 0;
    for (const [bucket, n] of buckets) {
      const lo = bucket * width;
      const hi = Math.min((bucket + 1) * width, limit);
      cumulative += atS >= hi ? n : atS <= lo ? 0 : (n * (atS - lo)) / (hi - lo);
    }
    curve.push({ at, cumulative: b === CURVE_BUCKETS ? all : Math.round(cumulative) });
  }
  return curve;
}

/**
 * What the completion dashboard shows. Counts come from the O(1) counters, read with the campaign in one query;
 * lists are index-backed keyset pages on campaign_accounts (campaign_id, state, account_id); the aggregates (curve,
 * percentiles, org units) are small rows CampaignProgressService maintains with every state move; gap counts (they read
 * the scope's accounts) are cached per campaign in StaleWhileRevalidateCache; revisit alerts read a bounded id range
 * of the audit log and are cached per viewer for a few seconds.
 */
@Injectable()
export class DashboardService {
  private readonly alerts = new StaleWhileRevalidateCache<RevisitAlert[]>();
  private readonly gapCounts = new StaleWhileRevalidateCache<CampaignGaps>();

  constructor(private readonly prisma: PrismaService) {}

  async listCampaigns(): Promise<CampaignSummary[]> {
    const campaigns = await this.prisma.campaign.findMany({
      select: { id: true, name: true, incidentRef: true, status: true, createdAt: true, launchedAt: true },
      orderBy: { id: 'desc' },
      take: 200,
    });
    const rows = await this.prisma.campaignStateCount.findMany({ where: { campaignId: { in: campaigns.map((c) => c.id) } } });
    const counts = new Map(campaigns.map((c) => [c.id, emptyCounts()]));
    for (const row of rows) counts.get(row.campaignId)![row.state] = row.count;
    return campaigns.map((campaign) => ({ campaign, funnel: funnelFromCounts(counts.get(campaign.id)!) }));
  }

  /** The campaign with its counters, in one query. */
  async campaign(id: number): Promise<{ campaign: DashboardCampaign; funnel: Funnel }> {
    const [row] = await this.prisma.$queryRaw<(DashboardCampaign & { counts: Partial<StateCounts> })[]>(Prisma.sql`
      SELECT c.id, c.name, c.incident_ref AS "incidentRef", c.reason, c.status::text AS status, c.notice_rate AS "noticeRate", c.domain_rates AS "domainRates",
             c.created_at AS "createdAt", c.launched_at AS "launchedAt", c.completed_at AS "completedAt", c.cancelled_at AS "cancelledAt",
             ${COUNTS_COLUMN}
      FROM campaigns c WHERE c.id = ${id}`);
    if (!row) throw new NotFoundException(`no campaign ${id}`);
    const { counts, ...campaign } = row;
    return { campaign, funnel: funnelFromCounts(countsFromColumn(counts)) };
  }

  /**
   * Curve, percentiles, org units and reminders from the rows CampaignProgressService keeps with every state move: one
   * query of four primary-key range reads (a few hundred small rows at most), whatever the campaign's size.
   */
  async campaignAggregates(campaign: DashboardCampaign): Promise<CampaignAggregates> {
    const now = Date.now();
    const start = campaign.launchedAt ?? campaign.createdAt;
    const end = new Date(Math.max(start.getTime() + 60_000, (campaign.completedAt ?? campaign.cancelledAt ?? new Date(now)).getTime()));
    const step = (end.getTime() - start.getTime()) / CURVE_BUCKETS;
    const width = [...CURVE_WIDTHS_S].reverse().find((w) => w * 1000 <= step) ?? CURVE_WIDTHS_S[0];
    const [row] = await this.prisma.$queryRaw<
      {
        times: [number, number][] | null;
        curve: [number, number][] | null;
        units: { org_unit: string; total: number; completed: number; units: number }[] | null;
        reminders: (Omit<ReminderRow, 'startedAt'> & { startedAt: string })[] | null;
      }[]
    >(Prisma.sql`
      SELECT (SELECT json_agg(json_build_array(bucket, count)) FROM campaign_completion_times WHERE campaign_id = ${campaign.id}) AS times,
             (SELECT json_agg(json_build_array(bucket, count)) FROM campaign_completion_curve WHERE campaign_id = ${campaign.id} AND width_seconds = ${width}) AS curve,
             (SELECT json_agg(u) FROM (
                SELECT org_unit, total, completed, (count(*) OVER ())::int AS units FROM campaign_org_unit_counts WHERE campaign_id = ${campaign.id}
                ORDER BY completed::float8 / nullif(total, 0), total DESC, org_unit LIMIT ${ORG_UNIT_ROWS}) u) AS units,
             (SELECT json_agg(json_build_object('number', number, 'startedAt', started_at, 'recipients', recipients, 'sent', sent,
                     'failed', failed, 'completedWithin48h', completed_within_48h) ORDER BY number)
              FROM campaign_reminders WHERE campaign_id = ${campaign.id}) AS reminders`);
    const times = new Map(row?.times ?? []);
    const orgUnits = row?.units ?? [];
    return {
      curve: curvePoints(row?.curve ?? [], width, start, end, now),
      start,
      end,
      medianSeconds: timeToCompletePercentile(times, 0.5),
      p90Seconds: timeToCompletePercentile(times, 0.9),
      orgUnits: orgUnits.map((r) => ({
        orgUnit: r.org_unit || '(none)',
        total: r.total,
        completed: r.completed,
        percent: r.total ? Math.round((r.completed / r.total) * 1000) / 10 : 0,
      })),
      orgUnitCount: orgUnits[0]?.units ?? 0,
      reminders: (row?.reminders ?? []).map((r) => ({ ...r, startedAt: new Date(r.startedAt) })),
    };
  }

  /** Who the campaign leaves out (see CampaignGaps); counting reads the whole scope, so it is cached. */
  gaps(campaign: DashboardCampaign): Promise<CampaignGaps> {
    const finished = campaign.status === 'completed' || campaign.status === 'cancelled';
    return this.gapCounts.get(String(campaign.id), finished ? FINISHED_TTL_MS : LIVE_TTL_MS, async () => {
      const scoped = await this.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id }, select: { id: true, scope: true, scopeOrgUnit: true } });
      return (await scopeCounts(this.prisma, scoped)).gaps;
    });
  }

  /** One keyset page of accounts still to reset, by account id: one index range scan per open state, merged. */
  async pending(campaignId: number, after = 0, limit = PENDING_PAGE): Promise<PendingAccount[]> {
    const perState = OPEN_STATES.map(
      (state) => Prisma.sql`(SELECT account_id, state, notice_error, flagged_at FROM campaign_accounts
        WHERE campaign_id = ${campaignId} AND state = ${state}::"ProgressState" AND account_id > ${after}
        ORDER BY account_id LIMIT ${limit})`,
    );
    const rows = await this.prisma.$queryRaw<
      {
        account_id: number; state: ProgressState; notice_error: string | null; flagged_at: Date; username: string; email: string | null;
        display_name: string | null; org_unit: string | null; bounce: string | null; bounced_at: Date | null;
      }[]
    >(Prisma.sql`
      SELECT p.account_id, p.state, p.notice_error, p.flagged_at, a.username, a.email, a.display_name, a.org_unit,
             b.status || ' ' || b.kind AS bounce, b.received_at AS bounced_at
      FROM (${Prisma.join(perState, ' UNION ALL ')}) p JOIN accounts a ON a.id = p.account_id
      LEFT JOIN LATERAL (${LATEST_BOUNCE(campaignId, Prisma.sql`p.account_id`)}) b ON true
      ORDER BY p.account_id LIMIT ${limit}`);
    return rows.map((r) => ({
      accountId: r.account_id,
      username: r.username,
      email: r.email,
      displayName: r.display_name,
      orgUnit: r.org_unit,
      state: r.state,
      noticeError: r.notice_error,
      flaggedAt: r.flagged_at,
      bounce: r.bounce,
      bouncedAt: r.bounced_at,
    }));
  }

  async noticeFailures(campaignId: number): Promise<NoticeFailure[]> {
    const rows = await this.prisma.campaignAccount.findMany({
      where: { campaignId, state: 'notice_failed' },
      orderBy: { accountId: 'asc' },
      take: FAILURE_ROWS,
      select: {
        accountId: true, noticeError: true, noticeAttempts: true, noticeFailedAt: true, account: { select: { username: true, email: true } },
        bounces: { orderBy: { id: 'desc' }, take: 1, select: { status: true, kind: true } },
      },
    });
    return rows.map((r) => ({
      accountId: r.accountId,
      username: r.account.username,
      email: r.account.email,
      noticeError: r.noticeError,
      noticeAttempts: r.noticeAttempts,
      noticeFailedAt: r.noticeFailedAt,
      bounce: r.bounces[0] ? `${r.bounces[0].status} ${r.bounces[0].kind}` : null,
    }));
  }

  /** Every pending account as CSV (formula-like cells neutralised), in keyset batches. */
  async exportPendingCsv(campaignId: number, write: (chunk: string) => Promise<void>): Promise<void> {
    await write(csvRow(['username', 'email', 'display_name', 'org_unit', 'state', 'notice_error', 'flagged_at', 'bounce', 'bounced_at']));
    let after = 0;
    for (;;) {
      const page = await this.pending(campaignId, after, EXPORT_BATCH);
      if (!page.length) return;
      await write(page.map((p) => csvRow([p.username, p.email, p.displayName, p.orgUnit, p.state, p.noticeError, p.flaggedAt, p.bounce, p.bouncedAt])).join(''));
      after = page[page.length - 1].accountId;
    }
  }

  /**
   * Revisits of an admin-assisted temporary-password link (audit action `secret.revisited`): a sign the link was
   * intercepted or forwarded. Admins see all of them, responders those of secrets they issued, managers none.
   */
  revisitAlerts(viewer: AuthenticatedOperator): Promise<RevisitAlert[]> {
    if (viewer.role === 'manager') return Promise.resolve([]);
    const actor = viewer.role === 'admin' ? null : operatorActor(viewer);
    return this.alerts.get(actor ?? '*', ALERTS_TTL_MS, () =>
      this.prisma.$queryRaw<RevisitAlert[]>(Prisma.sql`
        SELECT id, at, actor, details FROM audit_log
        WHERE id > (SELECT coalesce(max(id), 0) FROM audit_log) - ${ALERT_WINDOW}
          AND action = 'secret.revisited'
          ${actor ? Prisma.sql`AND EXISTS (SELECT 1 FROM jsonb_each_text(details) d WHERE d.value = ${actor})` : Prisma.empty}
        ORDER BY id DESC LIMIT 20`),
    );
  }
}
