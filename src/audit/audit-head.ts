import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signed head of the audit chain: how many entries it had, the last one's hash and the legacy boundary, under an
 * HMAC the database cannot make. Kept outside the table (Redis, and the incident record as printed), so deleting the
 * newest rows or rebuilding the chain shows as a head the table no longer reaches.
 */
export interface AuditHead {
  entries: number;
  lastHash: string;
  legacyThroughId: number;
}

const PREFIX = 'audit-head.v1';

function headMac(key: Buffer, head: AuditHead): string {
  return createHmac('sha256', key).update(`${PREFIX}\0${head.entries}\0${head.legacyThroughId}\0${head.lastHash}`).digest('hex');
}

/** `audit-head.v1.<entries>.<legacyThroughId>.<lastHash>.<mac>`: one word to paste into a ticket and back. */
export function formatHead(key: Buffer, head: AuditHead): string {
  return `${PREFIX}.${head.entries}.${head.legacyThroughId}.${head.lastHash}.${headMac(key, head)}`;
}

/** The head a printed value states, or why it cannot be trusted. */
export function parseHead(key: Buffer, value: string): { head: AuditHead } | { problem: string } {
  const match = /^audit-head\.v1\.(\d+)\.(\d+)\.([0-9a-f]{64})\.([0-9a-f]{64})$/.exec(value.trim());
  if (!match) return { problem: 'not an audit head (expected audit-head.v1.<entries>.<boundary>.<hash>.<mac>)' };
  const head = { entries: Number(match[1]), legacyThroughId: Number(match[2]), lastHash: match[3] };
  const expected = Buffer.from(headMac(key, head));
  if (!timingSafeEqual(expected, Buffer.from(match[4]))) return { problem: 'the signature of the head does not match: it was altered or made with another key' };
  return { head };
}
