import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { CampaignStatus, ProgressState } from '../../generated/prisma/enums.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';

/** The campaign and account columns every campaign mail (notice or reminder) is rendered and paced from. */
export interface CampaignMailRow {
  state: ProgressState;
  status: CampaignStatus;
  notice_rate: number;
  domain_rates: unknown;
  incident_ref: string;
  reason: string;
  phrase: string;
  username: string;
  display_name: string | null;
  email: string | null;
  emailVerified: boolean;
  locale: string;
  disabled: boolean;
}

/** What a notice's send needs from its campaign and account rows. */
export interface NoticeRow extends CampaignMailRow {
  canary_remaining: number | null;
  template: string;
}

/**
 * `claimed`: this process holds the account's notice until it records or gives it back. `leased`: another send holds
 * it (retry after `retryInMs`). `canary`: the campaign sends a canary, one notice at a time under its row's lock.
 */
export type NoticeClaim = { kind: 'claimed'; row: NoticeRow } | { kind: 'leased'; retryInMs: number } | { kind: 'canary' } | { kind: 'skip' };

/**
 * A claim lasts this long unless renewed; every RENEW_EVERY_MS this process renews all it holds. A worker killed
 * mid-send leaves its notices claimed for at most this long, after which another worker sends them.
 */
const LEASE_SECONDS = 30;
const RENEW_EVERY_MS = 10_000;
/**
 * The notice path's connections per process: a claim and a record statement per campaign at a time, releases and
 * failures, and one canary send per canary campaign; sends no longer hold one each.
 */
const CONNECTIONS = 8;
/** The most accounts one claim or record statement takes. */
const MAX_GROUP = 200;
/** How often a record is tried while PostgreSQL is unreachable (about three minutes in all) before its job fails. */
const RECORD_ATTEMPTS = 20;

const CLAIM = `
  WITH claimed AS (
    UPDATE campaign_accounts ca SET notice_lease = $3::uuid, notice_lease_until = now() + make_interval(secs => $4)
    FROM campaigns c
    WHERE c.id = $1 AND c.status = 'running' AND c.canary_remaining IS NULL
      AND ca.campaign_id = $1 AND ca.account_id = ANY($2::int[]) AND ca.state IN ('flagged', 'notice_failed')
      AND (ca.notice_lease_until IS NULL OR ca.notice_lease_until < now())
    RETURNING ca.account_id
  )
  SELECT w.account_id, cl.account_id IS NOT NULL AS claimed, ca.state,
         greatest(ceil(extract(epoch FROM ca.notice_lease_until - now()) * 1000), 0)::int AS lease_left_ms,
         c.status, c.canary_remaining, c.notice_rate, c.domain_rates, c.incident_ref, c.reason, c.phrase, c.template,
         a.username, a.display_name, a.email, a.email_verified AS "emailVerified", a.locale, a.disabled
  FROM unnest($2::int[]) AS w(account_id)
  JOIN campaigns c ON c.id = $1
  LEFT JOIN claimed cl ON cl.account_id = w.account_id
  LEFT JOIN campaign_accounts ca ON ca.campaign_id = $1 AND ca.account_id = w.account_id
  LEFT JOIN accounts a ON a.id = w.account_id`;

const RELEASE = `
  UPDATE campaign_accounts SET notice_lease = NULL, notice_lease_until = NULL
  WHERE campaign_id = $1 AND account_id = $2 AND notice_lease = $3::uuid`;

const RENEW = `
  UPDATE campaign_accounts ca SET notice_lease_until = now() + make_interval(secs => $4)
  FROM unnest($2::int[], $3::int[]) AS held(campaign_id, account_id)
  WHERE ca.campaign_id = held.campaign_id AND ca.account_id = held.account_id AND ca.notice_lease = $1::uuid`;

const RECORD_REPEATED_FAILURE = `
  UPDATE campaign_accounts SET notice_error = $3, notice_attempts = notice_attempts + 1, notice_failed_at = now(),
         notice_lease = NULL, notice_lease_until = NULL
  WHERE campaign_id = $1 AND account_id = $2 AND state = 'notice_failed'`;

interface ClaimRow extends Partial<NoticeRow> {
  account_id: number;
  claimed: boolean;
  lease_left_ms: number | null;
  status: CampaignStatus;
  canary_remaining: number | null;
}

function claimFrom(row: ClaimRow | undefined): NoticeClaim {
  if (!row || row.status !== 'running') return { kind: 'skip' };
  if (row.claimed) return { kind: 'claimed', row: row as NoticeRow };
  if (row.canary_remaining !== null) return { kind: 'canary' };
  if (row.state !== 'flagged' && row.state !== 'notice_failed') return { kind: 'skip' };
  // A lease that ended after this statement's snapshot reads as 0 here: look again soon.
  return { kind: 'leased', retryInMs: Math.max(row.lease_left_ms ?? 0, 1000) };
}

/**
 * Runs one statement for many callers: a call made while the group's statement is in flight waits for the next one,
 * which takes every call queued by then. An idle group runs a call at once, so it never waits for company.
 */
class StatementGroup<T, R> {
  private queued: { item: T; resolve(result: R): void; reject(err: unknown): void }[] = [];
  private running = false;

  constructor(private readonly run: (items: T[]) => Promise<R[]>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queued.length) {
      const group = this.queued.splice(0, MAX_GROUP);
      try {
        const results = await this.run(group.map((g) => g.item));
        group.forEach((g, i) => g.resolve(results[i]));
      } catch (err) {
        group.forEach((g) => g.reject(err));
      }
    }
    this.running = false;
  }
}

/** Records notice_failed with the server's reply, in the caller's transaction. */
export async function recordNoticeFailure(progress: CampaignProgressService, client: pg.PoolClient, campaignId: number, accountId: number, reply: string): Promise<void> {
  const moved = await progress.advance(client, campaignId, [accountId], 'notice_failed', { noticeError: reply });
  // A retried notice that failed again: same state, so only the latest reply and attempt count change.
  if (!moved.length) await client.query({ name: 'ro_repeated_notice_failure', text: RECORD_REPEATED_FAILURE, values: [campaignId, accountId, reply] });
}

/**
 * The database side of sending notices without a transaction per notice. Concurrent sends of a campaign claim their
 * accounts together in one statement (a lease on each row, so no other job sends the same notice meanwhile), and the
 * server's acceptances are recorded together in one statement that moves the rows and their counters (a group
 * commit). A worker killed between a notice's acceptance and its group's commit resends that notice once its lease
 * ends: `unrecorded` is how many are in that window now, `peakUnrecorded` the most at any moment.
 */
@Injectable()
export class NoticeClaimsService implements OnModuleDestroy {
  /** The notice path's own connections, so a campaign at full speed never makes the API's queries wait. */
  readonly pool: pg.Pool;
  /** This process's leases; a restarted process is another holder. */
  private readonly holder = randomUUID();
  private readonly claimGroups = new Map<number, StatementGroup<number, NoticeClaim>>();
  private readonly recordGroups = new Map<number, StatementGroup<number, void>>();
  /** Claimed and not yet recorded or given back, as "campaign:account" (renewed until then). */
  private readonly held = new Map<string, [number, number]>();
  private readonly renewal: NodeJS.Timeout;
  private unrecorded = 0;
  peakUnrecorded = 0;

  constructor(
    private readonly progress: CampaignProgressService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.pool = new pg.Pool({ connectionString: config.database.url, max: CONNECTIONS, pipeline: true, connectionTimeoutMillis: 60_000 });
    // An idle connection that dies (a database restart) is dropped by the pool; the next statement opens a new one.
    this.pool.on('error', () => undefined);
    this.renewal = setInterval(() => void this.renew().catch(() => undefined), RENEW_EVERY_MS);
    this.renewal.unref();
  }

  /** Claims the account's notice, together with the campaign's other sends of the moment. */
  claim(campaignId: number, accountId: number): Promise<NoticeClaim> {
    let group = this.claimGroups.get(campaignId);
    if (!group) this.claimGroups.set(campaignId, (group = new StatementGroup((ids) => this.claimAll(campaignId, ids))));
    return group.submit(accountId);
  }

  private async claimAll(campaignId: number, accountIds: number[]): Promise<NoticeClaim[]> {
    const distinct = [...new Set(accountIds)];
    const { rows } = await this.pool.query<ClaimRow>({ name: 'ro_claim_notices', text: CLAIM, values: [campaignId, distinct, this.holder, LEASE_SECONDS] });
    const byId = new Map(rows.map((r) => [r.account_id, r]));
    const seen = new Set<number>();
    return accountIds.map((id) => {
      // Two jobs of one account in one group: the row was claimed once, so only the first sends.
      if (seen.has(id)) return { kind: 'leased', retryInMs: 1000 };
      seen.add(id);
      const claim = claimFrom(byId.get(id));
      if (claim.kind === 'claimed') this.held.set(`${campaignId}:${id}`, [campaignId, id]);
      return claim;
    });
  }

  /**
   * The server accepted the notice: resolves once the group commit that records it is done, retrying while the
   * database is unreachable, because a job that failed now would mail the user again.
   */
  async recordSent(campaignId: number, accountId: number): Promise<void> {
    let group = this.recordGroups.get(campaignId);
    if (!group) this.recordGroups.set(campaignId, (group = new StatementGroup((ids) => this.recordAll(campaignId, ids))));
    this.peakUnrecorded = Math.max(this.peakUnrecorded, ++this.unrecorded);
    try {
      await group.submit(accountId);
    } finally {
      this.unrecorded--;
      this.held.delete(`${campaignId}:${accountId}`);
    }
  }

  private async recordAll(campaignId: number, accountIds: number[]): Promise<void[]> {
    for (let attempt = 1, delayMs = 250; ; attempt++, delayMs = Math.min(delayMs * 2, 10_000)) {
      try {
        await this.progress.advance(this.pool, campaignId, accountIds, 'notice_sent');
        return accountIds.map(() => undefined);
      } catch (err) {
        if (attempt >= RECORD_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** Nothing was sent (put off, or a refusal worth retrying): the notice is free for the next try at once. */
  async release(campaignId: number, accountId: number): Promise<void> {
    this.held.delete(`${campaignId}:${accountId}`);
    await this.pool.query({ name: 'ro_release_notice', text: RELEASE, values: [campaignId, accountId, this.holder] });
  }

  /** The notice failed for good: notice_failed with the reply, and the claim ends. */
  async fail(campaignId: number, accountId: number, reply: string): Promise<void> {
    this.held.delete(`${campaignId}:${accountId}`);
    await this.inTransaction((client) => recordNoticeFailure(this.progress, client, campaignId, accountId, reply));
  }

  /** Runs `work` in a transaction on the notice path's pool; a client whose transaction failed is not reused. */
  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(err as Error);
      throw err;
    }
  }

  private async renew(): Promise<void> {
    if (!this.held.size) return;
    const held = [...this.held.values()];
    await this.pool.query({ name: 'ro_renew_notices', text: RENEW, values: [this.holder, held.map(([c]) => c), held.map(([, a]) => a), LEASE_SECONDS] });
  }

  /** Opens `connections` of the pool ahead of a campaign's first sends, which are otherwise slow and bunch up. */
  async warmUp(connections: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: Math.min(connections, this.pool.options.max) }, () => this.pool.connect()));
    clients.forEach((client) => client.release());
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.renewal);
    if (!this.pool.ended) await this.pool.end();
  }
}
