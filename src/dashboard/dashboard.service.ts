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
import { PrismaService } from '../prisma/prisma.service.js';
import type { CurvePoint } from './completion-chart.js';
import { type Funnel, funnelFromCounts } from './funnel.js';
import { StaleWhileRevalidateCache } from './stale-cache.js';

export const CURVE_BUCKETS = 48;
export const ORG_UNIT_ROWS = 50;
export const PENDING_PAGE = 25;
const FAILURE_ROWS = 10;
const EXPORT_BATCH = 5000;
/** Aggregates of a running campaign are recomputed at most this often (longer when the query is slow). */
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
 * What the completion dashboard shows. Counts come from the O(1) counters, read with the campaign in one query;
 * lists are index-backed keyset pages on campaign_accounts (campaign_id, state, account_id); the aggregates that must
 * read every completed row (curve, percentiles, org units) are cached per campaign in StaleWhileRevalidateCache;
 * revisit alerts read a bounded id range of the audit log and are cached per viewer for a few seconds.
 */
@Injectable()
export class DashboardService {
  private readonly aggregates = new StaleWhileRevalidateCache<CampaignAggregates>();
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

  campaignAggregates(campaign: DashboardCampaign): Promise<CampaignAggregates> {
    const finished = campaign.status === 'completed' || campaign.status === 'cancelled';
    return this.aggregates.get(String(campaign.id), finished ? FINISHED_TTL_MS : LIVE_TTL_MS, () => this.computeAggregates(campaign));
  }

  private async computeAggregates(campaign: DashboardCampaign): Promise<CampaignAggregates> {
    const start = campaign.launchedAt ?? campaign.createdAt;
    const end = new Date(Math.max(start.getTime() + 60_000, (campaign.completedAt ?? campaign.cancelledAt ?? new Date()).getTime()));
    const [buckets, [times], orgUnits, reminders] = await Promise.all([
      this.prisma.$queryRaw<{ bucket: number; n: number }[]>(Prisma.sql`
        SELECT least(greatest(width_bucket(extract(epoch FROM completed_at)::float8, ${start.getTime() / 1000}::float8, ${end.getTime() / 1000}::float8, ${CURVE_BUCKETS}::int), 1), ${CURVE_BUCKETS}::int) AS bucket,
               count(*)::int AS n
        FROM campaign_accounts WHERE campaign_id = ${campaign.id} AND state = 'completed'
        GROUP BY 1 ORDER BY 1`),
      this.prisma.$queryRaw<{ p50: number | null; p90: number | null }[]>(Prisma.sql`
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - flagged_at)) AS p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - flagged_at)) AS p90
        FROM campaign_accounts WHERE campaign_id = ${campaign.id} AND state = 'completed'`),
      this.prisma.$queryRaw<{ org_unit: string | null; total: number; completed: number; units: number }[]>(Prisma.sql`
        SELECT a.org_unit, count(*)::int AS total, count(*) FILTER (WHERE ca.state = 'completed')::int AS completed,
               (count(*) OVER ())::int AS units
        FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
        WHERE ca.campaign_id = ${campaign.id}
        GROUP BY a.org_unit
        ORDER BY count(*) FILTER (WHERE ca.state = 'completed')::float8 / count(*), count(*) DESC, a.org_unit
        LIMIT ${ORG_UNIT_ROWS}`),
      // Each reminder's gain counts resets in its 48 hours, whether or not the user got that reminder: the question
      // is how far completion moved after it went out.
      this.prisma.$queryRaw<ReminderRow[]>(Prisma.sql`
        SELECT r.number, r.started_at AS "startedAt", r.recipients, r.sent, r.failed,
               (SELECT count(*)::int FROM campaign_accounts ca
                WHERE ca.campaign_id = r.campaign_id AND ca.state = 'completed'
                  AND ca.completed_at >= r.started_at AND ca.completed_at < r.started_at + interval '48 hours') AS "completedWithin48h"
        FROM campaign_reminders r WHERE r.campaign_id = ${campaign.id} ORDER BY r.number`),
    ]);
    const perBucket = new Map(buckets.map((b) => [b.bucket, b.n]));
    const step = (end.getTime() - start.getTime()) / CURVE_BUCKETS;
    let cumulative = 0;
    const curve: CurvePoint[] = [];
    for (let b = 1; b <= CURVE_BUCKETS; b++) {
      const at = new Date(start.getTime() + b * step);
      if (at.getTime() > Date.now() && curve.length) break;
      cumulative += perBucket.get(b) ?? 0;
      curve.push({ at, cumulative });
    }
    return {
      curve,
      start,
      end,
      medianSeconds: times?.p50 === null || times?.p50 === undefined ? null : Number(times.p50),
      p90Seconds: times?.p90 === null || times?.p90 === undefined ? null : Number(times.p90),
      orgUnits: orgUnits.map((r) => ({
        orgUnit: r.org_unit ?? '(none)',
        total: r.total,
        completed: r.completed,
        percent: r.total ? Math.round((r.completed / r.total) * 1000) / 10 : 0,
      })),
      orgUnitCount: orgUnits[0]?.units ?? 0,
      reminders,
    };
  }

  /** Who the campaign leaves out (see CampaignGaps); counting reads the whole scope, so it is cached like the aggregates. */
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
