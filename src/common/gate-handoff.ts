import { sha256Hex } from './tokens.js';

/** A handoff is valid this long after the gate issued it. */
export const HANDOFF_TTL_MS = 2 * 60_000;
export const HANDOFF_PATH = '/gate/handoff/';
export const HANDOFF_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** What the gate keeps about an issued handoff until it is opened or expires. */
export interface IssuedHandoff {
  accountId: number;
  applicationId: number;
  /** Already checked against the application's origins; null when it was off-origin. */
  returnTo: string | null;
  issuedAt: number;
}

/**
 * Issued handoffs live in Redis under the token's SHA-256 (never the token), expiring with it: issuing one then costs
 * the gate's flagged answer no more than a Redis write, so its time stays that of the unknown-user answer, and GETDEL
 * makes the first open the only one.
 */
export function handoffKey(queuePrefix: string, token: string): string {
  return `${queuePrefix}:gate-handoff:${sha256Hex(token)}`;
}
