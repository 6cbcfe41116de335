import { createHash, createHmac } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { deriveSubkey, resolveSecretKey } from '../config/master-key.js';
import type { Prisma } from '../generated/prisma/client.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { RedisService } from '../redis/redis.module.js';
import { type AuditHead, formatHead, parseHead } from './audit-head.js';

export interface AuditInput {
  /** `operator:<username>`, `user:<username>` or `system`. */
  actor: string;
  action: string;
  campaignId?: number | null;
  details?: Record<string, unknown>;
}

type Tx = Prisma.TransactionClient;

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so a value reads back from jsonb with the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

type ChainedEntry = { id: number; at: Date; actor: string; action: string; campaignId: number | null; details: unknown };

function canonicalEntry(entry: ChainedEntry): string {
  return canonicalJson([entry.id, entry.at.toISOString(), entry.actor, entry.action, entry.campaignId, entry.details]);
}

/** The chain's link: HMAC-SHA256 under a key the database does not hold, so rows cannot be re-chained from inside it. */
export function auditEntryHash(key: Buffer, prevHash: string, entry: ChainedEntry): string {
  return createHmac('sha256', key).update(prevHash).update(canonicalEntry(entry)).digest('hex');
}

/** The unkeyed SHA-256 the chain used before it was keyed; only entries up to the recorded boundary may use it. */
export function legacyAuditEntryHash(prevHash: string, entry: ChainedEntry): string {
  return createHash('sha256').update(prevHash).update(canonicalEntry(entry)).digest('hex');
}

const CHAIN_LOCK = `SELECT pg_advisory_xact_lock(hashtext('audit_log'))`;

/** Keeps the higher of two heads, so a slow writer never puts back an older one. */
const SET_HEAD_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local entries = tonumber(string.match(current, '^audit%-head%.v1%.(%d+)%.'))
  if entries and entries >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** Entries from before the chain was keyed, checked with the old unkeyed hash. */
  legacyEntries: number;
  /** The first entry found removed, edited or re-chained, or the entry count a truncation cut back to. */
  brokenAt?: number;
  problem?: string;
  problems: string[];
  /** The signed head kept in Redis, as `audit head` prints it. */
  head: string | null;
  warnings: string[];
}

/**
 * Append-only, HMAC-chained audit log. Writes join the caller's transaction so an action and its entry commit together;
 * after each commit the signed head in Redis moves to the newest entry.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AuditService.name);
  private keys?: { chain: Buffer; head: Buffer };
  private headWrite?: Promise<void>;
  private headDirty = false;

  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.key();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flushHead();
  }

  private key(): { chain: Buffer; head: Buffer } {
    if (!this.keys) {
      const master = resolveSecretKey(this.config, this.logger);
      if (!master) throw new Error('the audit log is keyed with SECRET_ENCRYPTION_KEY: set it (32 bytes, base64: openssl rand -base64 32)');
      this.keys = { chain: deriveSubkey(master, 'reset-orchestrator audit chain hmac v1'), head: deriveSubkey(master, 'reset-orchestrator audit head hmac v1') };
    }
    return this.keys;
  }

  private get headKey(): string {
    return `${this.config.redis.queuePrefix}:audit-head`;
  }

  async record(tx: Tx, input: AuditInput): Promise<void> {
    // The chain needs one writer at a time; the lock is released at commit.
    await tx.$executeRawUnsafe(CHAIN_LOCK);
    const last = await tx.auditEntry.findFirst({ orderBy: { id: 'desc' }, select: { id: true, hash: true } });
    const prevHash = last?.hash ?? GENESIS_HASH;
    const id = (last?.id ?? 0) + 1;
    const at = new Date();
    const details = JSON.parse(JSON.stringify(input.details ?? {})) as Prisma.InputJsonObject;
    const campaignId = input.campaignId ?? null;
    const hash = auditEntryHash(this.key().chain, prevHash, { id, at, actor: input.actor, action: input.action, campaignId, details });
    await tx.auditEntry.create({ data: { id, at, actor: input.actor, action: input.action, campaignId, details, prevHash, hash } });
    // Counted when written: an entry whose transaction then rolls back is counted too.
    this.metrics.auditAppends.inc();
    this.scheduleHeadWrite();
  }

  /** Records an entry in a transaction of its own, and returns once the signed head includes it. */
  async recordNow(input: AuditInput): Promise<void> {
    await this.prisma.$transaction((tx) => this.record(tx, input));
    await this.flushHead();
  }

  /** Waits for this process's pending head writes. */
  async flushHead(): Promise<void> {
    while (this.headWrite) await this.headWrite;
  }

  private scheduleHeadWrite(): void {
    this.headDirty = true;
    this.headWrite ??= this.writeHeads().finally(() => (this.headWrite = undefined));
  }

  /**
   * Runs beside the appending transaction: taking the chain lock waits until that transaction has committed or
   * rolled back, so the head only ever names committed entries. One writer per process coalesces a burst of appends.
   */
  private async writeHeads(): Promise<void> {
    while (this.headDirty) {
      this.headDirty = false;
      const client = await this.prisma.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(CHAIN_LOCK);
        const { rows } = await client.query<{ id: number; hash: string; legacy: number | null }>(
          `SELECT a.id, a.hash, (SELECT legacy_through_id FROM audit_chain WHERE id = 1) AS legacy FROM audit_log a ORDER BY a.id DESC LIMIT 1`,
        );
        await client.query('COMMIT');
        if (!rows.length) continue;
        const head = { entries: rows[0].id, lastHash: rows[0].hash, legacyThroughId: rows[0].legacy ?? 0 };
        await this.redis.eval(SET_HEAD_IF_NEWER, 1, this.headKey, head.entries, formatHead(this.key().head, head));
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        this.logger.warn(`could not update the signed audit head: ${(err as Error).message}`);
      } finally {
        client.release();
      }
    }
  }

  /** The signed head as kept in Redis (null before the first entry), for the incident record. */
  async head(): Promise<string | null> {
    await this.flushHead();
    return this.redis.get(this.headKey);
  }

  /**
   * Walks the whole chain and compares it with the signed head in Redis and, when given, a head printed earlier.
   * Reports removed, edited and re-chained entries (also those re-hashed with the old unkeyed function) and truncation.
   */
  async verify(printedHead?: string): Promise<AuditVerification> {
    await this.flushHead();
    const { chain, head: headKey } = this.key();
    const problems: string[] = [];
    let brokenAt: number | undefined;
    const fail = (at: number, problem: string) => {
      brokenAt ??= at;
      problems.push(problem);
    };
    const boundary = await this.prisma.auditChain.findUnique({ where: { id: 1 } });
    if (!boundary) fail(1, 'the legacy boundary (audit_chain) is missing');
    const legacyThroughId = boundary?.legacyThroughId ?? 0;

    const hashAt = new Map<number, string>();
    const stated: Array<{ source: string; value: string }> = [];
    const stored = await this.redis.get(this.headKey);
    if (stored) stated.push({ source: 'the signed head in Redis', value: stored });
    if (printedHead) stated.push({ source: 'the head given', value: printedHead });
    const heads: Array<{ source: string; head: AuditHead }> = [];
    for (const { source, value } of stated) {
      const parsed = parseHead(headKey, value);
      if ('problem' in parsed) fail(1, `${source}: ${parsed.problem}`);
      else heads.push({ source, head: parsed.head });
    }

    let prevHash = GENESIS_HASH;
    let entries = 0;
    let cursor = 0;
    let intact = false;
    walk: for (;;) {
      const page = await this.prisma.auditEntry.findMany({ where: { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: 1000 });
      if (!page.length) {
        intact = true;
        break;
      }
      for (const entry of page) {
        entries += 1;
        if (entry.id !== entries) {
          fail(entries, `entry ${entries} is missing`);
          break walk;
        }
        if (entry.prevHash !== prevHash) {
          fail(entry.id, 'previous-hash link does not match');
          break walk;
        }
        const keyed = entry.id > legacyThroughId;
        if ((keyed ? auditEntryHash(chain, prevHash, entry) : legacyAuditEntryHash(prevHash, entry)) !== entry.hash) {
          const rehashed = keyed && legacyAuditEntryHash(prevHash, entry) === entry.hash;
          fail(entry.id, rehashed ? 'entry was re-hashed with the unkeyed function' : 'entry content was changed');
          break walk;
        }
        if (heads.some((h) => h.head.entries === entry.id)) hashAt.set(entry.id, entry.hash);
        prevHash = entry.hash;
        cursor = entry.id;
      }
    }

    if (!stored && entries > 0) fail(entries, 'no signed head in Redis: compare with a head printed earlier (audit verify --head <value>)');
    // A chain already broken above says enough; the heads are compared with an intact one.
    for (const { source, head } of intact ? heads : []) {
      if (head.legacyThroughId !== legacyThroughId) fail(Math.min(head.legacyThroughId, legacyThroughId) + 1, `${source} records the legacy boundary at ${head.legacyThroughId}, the table at ${legacyThroughId}`);
      if (entries < head.entries) fail(entries + 1, `truncated: ${source} records ${head.entries} entries, the table has ${entries}`);
      else if (hashAt.get(head.entries) !== head.lastHash) fail(head.entries, `entry ${head.entries} is not the one ${source} records: the chain was rewritten`);
    }

    const warnings: string[] = [];
    const [rights] = await this.prisma.$queryRaw<Array<{ owner: boolean; rewrite: boolean }>>`
      SELECT pg_get_userbyid(c.relowner) = current_user AS owner,
             has_table_privilege(current_user, c.oid, 'UPDATE, DELETE, TRUNCATE') AS rewrite
      FROM pg_class c WHERE c.oid = 'audit_log'::regclass`;
    if (rights?.owner) warnings.push('the application role owns audit_log and can rewrite it: run the service as a role that does not own the tables');
    else if (rights?.rewrite) warnings.push('the application role may UPDATE, DELETE or TRUNCATE audit_log: REVOKE those rights (see the README)');

    return { ok: problems.length === 0, entries, legacyEntries: Math.min(entries, legacyThroughId), brokenAt, problem: problems[0], problems, head: stored, warnings };
  }
}
