import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { Prisma } from '../generated/prisma/client.js';
import type { ProgressState } from '../generated/prisma/enums.js';
import { sha256Hex } from '../common/tokens.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { ALLOWED_FROM, STATE_TIMESTAMP, type StateCounts, emptyCounts } from './progress-states.js';
import { CURVE_WIDTHS_S, TIME_TO_COMPLETE_EDGES } from './completion-buckets.js';

type Tx = Prisma.TransactionClient;

/**
 * A Prisma transaction, a pg client inside a transaction its caller opened, or a pg pool (the statement is its own
 * transaction): the notice path's own connections.
 */
export type ProgressTx = Tx | pg.PoolClient | pg.Pool;

/**
 * The campaign's counters as one JSON column, for a query that reads the campaign (aliased `c`) and its counts in one
 * round trip; turn it into StateCounts with countsFromColumn.
 */
export const COUNTS_COLUMN = Prisma.sql`coalesce((SELECT json_object_agg(s.state, s.count) FROM campaign_state_counts s WHERE s.campaign_id = c.id), '{}') AS counts`;

export function countsFromColumn(counts: Partial<StateCounts>): StateCounts {
  return { ...emptyCounts(), ...counts };
}

/** Statement text to its prepared name: a handful of shapes (one per target state and option set). */
const statementNames = new Map<string, string>();

/**
 * On a pg client, the statement is prepared once per connection (named by its text's hash): the same few statement
 * shapes run once per notice, and parsing and planning them each time cost about a third of the database's time per
 * notice (the sender's transaction in pgbench: 780 a second unprepared, 1,230 prepared).
 */
async function queryRows<T>(tx: ProgressTx, sql: Prisma.Sql): Promise<T[]> {
  if ('$queryRaw' in tx) return tx.$queryRaw<T[]>(sql);
  let name = statementNames.get(sql.text);
  if (!name) statementNames.set(sql.text, (name = `ro_${sha256Hex(sql.text).slice(0, 32)}`));
  return (await tx.query<T & pg.QueryResultRow>({ name, text: sql.text, values: sql.values })).rows;
}

/**
 * The dashboard's completion rows for the accounts in `moved` (just completed): their org unit's completed count, their
 * time-to-complete bucket and their wall-clock bucket in every curve width. Completion is final, so these only grow.
 */
function completionCounters(campaignId: number): Prisma.Sql {
  return Prisma.sql`, completed_units AS (
        INSERT INTO campaign_org_unit_counts (campaign_id, org_unit, completed)
        SELECT ${campaignId}, coalesce(org_unit, ''), count(*)::int FROM moved GROUP BY 2
        ON CONFLICT (campaign_id, org_unit) DO UPDATE SET completed = campaign_org_unit_counts.completed + EXCLUDED.completed
      ), completed_times AS (
        INSERT INTO campaign_completion_times (campaign_id, bucket, count)
        SELECT ${campaignId}, ${timeBucket(Prisma.sql`completed_at - flagged_at`)}, count(*)::int FROM moved GROUP BY 2
        ON CONFLICT (campaign_id, bucket) DO UPDATE SET count = campaign_completion_times.count + EXCLUDED.count
      ), completed_curve AS (
        INSERT INTO campaign_completion_curve (campaign_id, width_seconds, bucket, count)
        SELECT ${campaignId}, w, floor(extract(epoch FROM completed_at) / w)::int, count(*)::int
        FROM moved, unnest(${CURVE_WIDTHS_S as number[]}::int[]) w GROUP BY 2, 3
        ON CONFLICT (campaign_id, width_seconds, bucket) DO UPDATE SET count = campaign_completion_curve.count + EXCLUDED.count
      ), reminder_gains AS (
        -- Each reminder's gain counts resets in its 48 hours, whether or not the user got that reminder.
        UPDATE campaign_reminders r SET completed_within_48h = r.completed_within_48h + g.n
        FROM (SELECT r2.number, count(*)::int AS n FROM moved m JOIN campaign_reminders r2 ON r2.campaign_id = ${campaignId}
                AND m.completed_at >= r2.started_at AND m.completed_at < r2.started_at + interval '48 hours'
              GROUP BY r2.number) g
        WHERE r.campaign_id = ${campaignId} AND r.number = g.number
      )`;
}

/** SQL: every reminder's count of completions in its 48 hours, recounted from campaign_accounts. */
export function recountReminderGains(campaignIds: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    UPDATE campaign_reminders r SET completed_within_48h = (
      SELECT count(*)::int FROM campaign_accounts ca
      WHERE ca.campaign_id = r.campaign_id AND ca.state = 'completed'
        AND ca.completed_at >= r.started_at AND ca.completed_at < r.started_at + interval '48 hours')
    WHERE r.campaign_id IN (${campaignIds})`;
}


/** SQL: the TIME_TO_COMPLETE_EDGES bucket of an interval. */
function timeBucket(interval: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`greatest(width_bucket(extract(epoch FROM ${interval})::float8, ${TIME_TO_COMPLETE_EDGES as number[]}::float8[]), 1) - 1`;
}

/** A campaign's precomputed dashboard rows (see CampaignProgressService), or the same recounted from campaign_accounts. */
export interface CampaignAggregateRows {
  orgUnits: { orgUnit: string; total: number; completed: number }[];
  times: { bucket: number; count: number }[];
  curve: { widthSeconds: number; bucket: number; count: number }[];
}

/** SELECTs of a campaign's dashboard rows from campaign_accounts, in the columns of CampaignAggregateRows. */
function recountSql(campaignId: number) {
  return {
    orgUnits: Prisma.sql`SELECT coalesce(org_unit, '') AS "orgUnit", count(*)::int AS total, (count(*) FILTER (WHERE state = 'completed'))::int AS completed
      FROM campaign_accounts WHERE campaign_id = ${campaignId} GROUP BY 1`,
    times: Prisma.sql`SELECT ${timeBucket(Prisma.sql`completed_at - flagged_at`)} AS bucket, count(*)::int AS count
      FROM campaign_accounts WHERE campaign_id = ${campaignId} AND state = 'completed' GROUP BY 1`,
    curve: Prisma.sql`SELECT w AS "widthSeconds", floor(extract(epoch FROM completed_at) / w)::int AS bucket, count(*)::int AS count
      FROM campaign_accounts, unnest(${CURVE_WIDTHS_S as number[]}::int[]) w WHERE campaign_id = ${campaignId} AND state = 'completed' GROUP BY 1, 2`,
  };
}

export interface AdvanceOptions {
  /** The SMTP reply kept with notice_failed. */
  noticeError?: string;
  /** false when the move is no send of its own (a bounce of a notice already counted): notice_attempts stays. */
  countAttempt?: boolean;
}

/**
 * The per-account campaign state and its O(1) counters. Every flow changes an account's progress through
 * this service, inside the caller's transaction, and each statement moves the rows and the counters together:
 * the per-state counts, and the dashboard's rows (per org unit accounts and completions, the time-to-complete
 * histogram, completions per wall-clock bucket), so a dashboard page reads a few small rows at any campaign size.
 */
@Injectable()
export class CampaignProgressService {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Adds the accounts selected by `accountIds` (a subquery returning account ids) to the campaign as flagged.
   * Accounts already in the campaign are left alone, so flagging the same batch twice counts nobody twice.
   * `alongside` are the caller's own data-modifying statements (never on campaign_accounts or its counters), run in the
   * same SQL statement so a batch costs one round trip; like every part of one statement they see the rows as they
   * were before it. Returns how many were newly flagged. The org unit is one primary-key probe per account: as a join,
   * a launch of 1,000,000 accounts took 1.9× its SQL floor instead of 1.3×.
   */
  async flag(tx: Tx, campaignId: number, accountIds: Prisma.Sql, alongside: Prisma.Sql[] = []): Promise<number> {
    const others = alongside.length
      ? Prisma.join(alongside.map((sql, i) => Prisma.sql`, alongside_${Prisma.raw(String(i))} AS (${sql})`), '')
      : Prisma.empty;
    const rows = await tx.$queryRaw<{ n: number }[]>(Prisma.sql`
      WITH inserted AS (
        INSERT INTO campaign_accounts (campaign_id, account_id, org_unit)
        SELECT ${campaignId}, ids.id, (SELECT a.org_unit FROM accounts a WHERE a.id = ids.id) FROM (${accountIds}) AS ids(id)
        ON CONFLICT DO NOTHING
        RETURNING org_unit
      ), counted AS (
        INSERT INTO campaign_state_counts (campaign_id, state, count)
        SELECT ${campaignId}, 'flagged', count(*)::int FROM inserted
        ON CONFLICT (campaign_id, state) DO UPDATE SET count = campaign_state_counts.count + EXCLUDED.count
      ), units AS (
        INSERT INTO campaign_org_unit_counts (campaign_id, org_unit, total)
        SELECT ${campaignId}, coalesce(org_unit, ''), count(*)::int FROM inserted GROUP BY 2
        ON CONFLICT (campaign_id, org_unit) DO UPDATE SET total = campaign_org_unit_counts.total + EXCLUDED.total
      ) ${others}
      SELECT count(*)::int AS n FROM inserted`);
    return rows[0]?.n ?? 0;
  }

  /**
   * Moves the given accounts of a campaign to `to`, from whichever earlier state allows it (see ALLOWED_FROM);
   * accounts already past it are untouched. Returns the ids that moved.
   */
  async advance(tx: ProgressTx, campaignId: number, accountIds: number[] | 'all-open', to: ProgressState, options: AdvanceOptions = {}): Promise<number[]> {
    const from = ALLOWED_FROM[to];
    if (!from.length || (Array.isArray(accountIds) && !accountIds.length)) return [];
    const stamp = STATE_TIMESTAMP[to];
    const accountFilter = accountIds === 'all-open' ? Prisma.empty : Prisma.sql`AND account_id = ANY(${accountIds}::int[])`;
    const noticeColumns =
      to === 'notice_sent' || to === 'notice_failed'
        ? Prisma.sql`, notice_attempts = ca.notice_attempts + ${options.countAttempt === false ? 0 : 1}, notice_error = ${options.noticeError ?? null}, notice_lease = NULL, notice_lease_until = NULL`
        : Prisma.empty;
    const stampColumn = stamp ? Prisma.sql`, ${Prisma.raw(stamp)} = now()` : Prisma.empty;
    const rows = await queryRows<{ account_id: number }>(tx, Prisma.sql`
      WITH old AS (
        SELECT account_id, state FROM campaign_accounts
        WHERE campaign_id = ${campaignId} ${accountFilter}
          AND state = ANY(${from as string[]}::"ProgressState"[])
        FOR UPDATE
      ), moved AS (
        UPDATE campaign_accounts ca SET state = ${to}::"ProgressState" ${stampColumn} ${noticeColumns}
        FROM old WHERE ca.campaign_id = ${campaignId} AND ca.account_id = old.account_id
        RETURNING ca.account_id, old.state AS old_state ${to === 'completed' ? Prisma.sql`, ca.org_unit, ca.flagged_at, ca.completed_at` : Prisma.empty}
      ) ${to === 'completed' ? completionCounters(campaignId) : Prisma.empty}, delta AS (
        SELECT old_state AS state, -count(*) AS d FROM moved GROUP BY old_state
        UNION ALL
        SELECT ${to}::"ProgressState", count(*) FROM moved
      ), counted AS (
        INSERT INTO campaign_state_counts (campaign_id, state, count)
        SELECT ${campaignId}, state, sum(d)::int FROM delta GROUP BY state HAVING sum(d) <> 0
        ON CONFLICT (campaign_id, state) DO UPDATE SET count = campaign_state_counts.count + EXCLUDED.count
      )
      SELECT account_id FROM moved`);
    return rows.map((r) => r.account_id);
  }

  /**
   * Marks an account completed in every campaign that still has it open: a new password answers all of them,
   * including an older campaign that overlapped the one now flagging the account.
   */
  async completeAccount(tx: Tx, accountId: number): Promise<number[]> {
    const open = await tx.$queryRaw<{ campaign_id: number }[]>(Prisma.sql`
      SELECT campaign_id FROM campaign_accounts
      WHERE account_id = ${accountId} AND state = ANY(${ALLOWED_FROM.completed as string[]}::"ProgressState"[])`);
    const completed: number[] = [];
    for (const { campaign_id } of open) {
      if ((await this.advance(tx, campaign_id, [accountId], 'completed')).length) completed.push(campaign_id);
    }
    return completed;
  }

  /** The per-state counts, read from the counter rows (O(1) in the campaign's size). */
  async counts(campaignId: number, tx: Tx = this.prisma): Promise<StateCounts> {
    const rows = await tx.campaignStateCount.findMany({ where: { campaignId } });
    const counts = emptyCounts();
    for (const row of rows) counts[row.state] = row.count;
    return counts;
  }

  /** Counts with COUNT(*) over the rows; used to check the counters, never on a hot path. */
  async recount(campaignId: number): Promise<StateCounts> {
    const rows = await this.prisma.$queryRaw<{ state: ProgressState; n: number }[]>(
      Prisma.sql`SELECT state, count(*)::int AS n FROM campaign_accounts WHERE campaign_id = ${campaignId} GROUP BY state`,
    );
    const counts = emptyCounts();
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  /** The campaign's precomputed dashboard rows, in a fixed order. */
  async aggregateRows(campaignId: number): Promise<CampaignAggregateRows> {
    const [orgUnits, times, curve] = await Promise.all([
      this.prisma.campaignOrgUnitCount.findMany({ where: { campaignId }, orderBy: { orgUnit: 'asc' }, select: { orgUnit: true, total: true, completed: true } }),
      this.prisma.campaignCompletionTime.findMany({ where: { campaignId }, orderBy: { bucket: 'asc' }, select: { bucket: true, count: true } }),
      this.prisma.campaignCompletionCurve.findMany({
        where: { campaignId },
        orderBy: [{ widthSeconds: 'asc' }, { bucket: 'asc' }],
        select: { widthSeconds: true, bucket: true, count: true },
      }),
    ]);
    return { orgUnits, times, curve };
  }

  /** The same rows recounted from campaign_accounts; used to check them, never on a hot path. */
  async recountAggregates(campaignId: number): Promise<CampaignAggregateRows> {
    const sql = recountSql(campaignId);
    const [orgUnits, times, curve] = await Promise.all([
      this.prisma.$queryRaw<CampaignAggregateRows['orgUnits']>(Prisma.sql`${sql.orgUnits} ORDER BY 1`),
      this.prisma.$queryRaw<CampaignAggregateRows['times']>(Prisma.sql`${sql.times} ORDER BY 1`),
      this.prisma.$queryRaw<CampaignAggregateRows['curve']>(Prisma.sql`${sql.curve} ORDER BY 1, 2`),
    ]);
    return { orgUnits, times, curve };
  }

  /** Replaces the campaign's dashboard rows by a recount from campaign_accounts (repairs, and tests that rewrite history). */
  async rebuildAggregates(tx: Tx, campaignId: number): Promise<void> {
    const sql = recountSql(campaignId);
    await tx.$executeRaw(Prisma.sql`
      WITH gone_units AS (DELETE FROM campaign_org_unit_counts WHERE campaign_id = ${campaignId}),
           gone_times AS (DELETE FROM campaign_completion_times WHERE campaign_id = ${campaignId})
      DELETE FROM campaign_completion_curve WHERE campaign_id = ${campaignId}`);
    // A statement of its own: the inserts must not meet the rows deleted above in the primary keys.
    await tx.$executeRaw(Prisma.sql`
      WITH units AS (INSERT INTO campaign_org_unit_counts (org_unit, total, completed, campaign_id) SELECT *, ${campaignId} FROM (${sql.orgUnits}) r),
           times AS (INSERT INTO campaign_completion_times (bucket, count, campaign_id) SELECT *, ${campaignId} FROM (${sql.times}) r)
      INSERT INTO campaign_completion_curve (width_seconds, bucket, count, campaign_id) SELECT *, ${campaignId} FROM (${sql.curve}) r`);
    await tx.$executeRaw(recountReminderGains(Prisma.sql`${campaignId}::int`));
  }
}
