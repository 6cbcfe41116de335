import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { PrismaService } from '../prisma/prisma.service.js';

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

/** The canonical text an entry's hash covers; any edit to a stored field changes it. */
export function auditEntryHash(
  prevHash: string,
  entry: { id: number; at: Date; actor: string; action: string; campaignId: number | null; details: unknown },
): string {
  const canonical = canonicalJson([entry.id, entry.at.toISOString(), entry.actor, entry.action, entry.campaignId, entry.details]);
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

/** Append-only, hash-chained audit log. Writes join the caller's transaction so an action and its entry commit together. */
@Injectable()
export class AuditService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly metrics: MetricsService,
  ) {}

  async record(tx: Tx, input: AuditInput): Promise<void> {
    // The chain needs one writer at a time; the lock is released at commit.
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext('audit_log'))`);
    const last = await tx.auditEntry.findFirst({ orderBy: { id: 'desc' }, select: { id: true, hash: true } });
    const prevHash = last?.hash ?? GENESIS_HASH;
    const id = (last?.id ?? 0) + 1;
    const at = new Date();
    const details = JSON.parse(JSON.stringify(input.details ?? {})) as Prisma.InputJsonObject;
    const campaignId = input.campaignId ?? null;
    const hash = auditEntryHash(prevHash, { id, at, actor: input.actor, action: input.action, campaignId, details });
    await tx.auditEntry.create({ data: { id, at, actor: input.actor, action: input.action, campaignId, details, prevHash, hash } });
    // Counted when written: an entry whose transaction then rolls back is counted too.
    this.metrics.auditAppends.inc();
  }

  /** Records an entry in a transaction of its own. */
  recordNow(input: AuditInput): Promise<void> {
    return this.prisma.$transaction((tx) => this.record(tx, input));
  }

  /** Walks the whole chain; returns the first entry that was removed, edited or reordered. */
  async verify(): Promise<{ ok: true; entries: number } | { ok: false; entries: number; brokenAt: number; problem: string }> {
    let prevHash = GENESIS_HASH;
    let expectedId = 1;
    let cursor = 0;
    let entries = 0;
    for (;;) {
      const page = await this.prisma.auditEntry.findMany({ where: { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: 1000 });
      if (!page.length) return { ok: true, entries };
      for (const entry of page) {
        entries += 1;
        if (entry.id !== expectedId) return { ok: false, entries, brokenAt: expectedId, problem: `entry ${expectedId} is missing` };
        if (entry.prevHash !== prevHash) return { ok: false, entries, brokenAt: entry.id, problem: 'previous-hash link does not match' };
        if (auditEntryHash(prevHash, entry) !== entry.hash) return { ok: false, entries, brokenAt: entry.id, problem: 'entry content was changed' };
        prevHash = entry.hash;
        expectedId += 1;
        cursor = entry.id;
      }
    }
  }
}
