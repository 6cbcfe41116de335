import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { Prisma } from '../generated/prisma/client.js';
import type { ProgressState } from '../generated/prisma/enums.js';
import { sha256Hex } from '../common/tokens.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { ALLOWED_FROM, STATE_TIMESTAMP, type StateCounts, emptyCounts } from './progress-states.js';

type Tx = Prisma.TransactionClient;

/** A Prisma transaction, or a pg client inside a transaction its caller opened (the notice sender's hot path). */
export type ProgressTx = Tx | pg.PoolClient;

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

export interface AdvanceOptions {
  /** The SMTP reply kept with notice_failed. */
  noticeError?: string;
  /** false when the move is no send of its own (a bounce of a notice already counted): notice_attempts stays. */
  countAttempt?: boolean;
}

/**
 * The per-account campaign state and its O(1) counters. Every flow changes an account's progress through
 * this service, inside the caller's transaction, and each statement moves the rows and the counters together.
 */
@Injectable()
export class CampaignProgressService {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Adds the accounts selected by `accountIds` (a subquery returning account ids) to the campaign as flagged.
   * Accounts already in the campaign are left alone, so flagging the same batch twice counts nobody twice.
   * `alongside` are the caller's own data-modifying statements (never on campaign_accounts or its counters), run in the
   * same SQL statement so a batch costs one round trip; like every part of one statement they see the rows as they
   * were before it. Returns how many were newly flagged.
   */
  async flag(tx: Tx, campaignId: number, accountIds: Prisma.Sql, alongside: Prisma.Sql[] = []): Promise<number> {
    const others = alongside.length
      ? Prisma.join(alongside.map((sql, i) => Prisma.sql`, alongside_${Prisma.raw(String(i))} AS (${sql})`), '')
      : Prisma.empty;
    const rows = await tx.$queryRaw<{ n: number }[]>(Prisma.sql`
      WITH inserted AS (
        INSERT INTO campaign_accounts (campaign_id, account_id)
        SELECT ${campaignId}, ids.id FROM (${accountIds}) AS ids(id)
        ON CONFLICT DO NOTHING
        RETURNING 1
      ), counted AS (
        INSERT INTO campaign_state_counts (campaign_id, state, count)
        SELECT ${campaignId}, 'flagged', count(*)::int FROM inserted
        ON CONFLICT (campaign_id, state) DO UPDATE SET count = campaign_state_counts.count + EXCLUDED.count
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
        ? Prisma.sql`, notice_attempts = ca.notice_attempts + ${options.countAttempt === false ? 0 : 1}, notice_error = ${options.noticeError ?? null}`
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
        RETURNING ca.account_id, old.state AS old_state
      ), delta AS (
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
}
