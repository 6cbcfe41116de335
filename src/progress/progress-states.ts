import { Prisma } from '../generated/prisma/client.js';
import type { ProgressState } from '../generated/prisma/enums.js';

export const PROGRESS_STATES: readonly ProgressState[] = [
  'flagged',
  'notice_sent',
  'notice_failed',
  'pre_reset',
  'link_sent',
  'completed',
  'cancelled',
];

/** Accounts still to reset: every state before completed/cancelled. */
export const OPEN_STATES: readonly ProgressState[] = ['flagged', 'notice_sent', 'notice_failed', 'pre_reset', 'link_sent'];

/** SQL: the progress state in `column` (e.g. `ca.state`) is one of OPEN_STATES. */
export function isOpenState(column: string): Prisma.Sql {
  return Prisma.raw(`${column} IN (${OPEN_STATES.map((state) => `'${state}'`).join(', ')})`);
}

/** Which states an account may move to each state from: progress only moves forward. */
export const ALLOWED_FROM: Record<ProgressState, readonly ProgressState[]> = {
  flagged: [],
  notice_sent: ['flagged', 'notice_failed'],
  // From notice_sent too: an asynchronous bounce reports a notice the server had accepted.
  notice_failed: ['flagged', 'notice_sent'],
  pre_reset: ['flagged', 'notice_sent', 'notice_failed'],
  link_sent: ['flagged', 'notice_sent', 'notice_failed', 'pre_reset'],
  completed: OPEN_STATES,
  cancelled: OPEN_STATES,
};

/** The timestamp column each state stamps when an account enters it. */
export const STATE_TIMESTAMP: Partial<Record<ProgressState, string>> = {
  notice_sent: 'notice_sent_at',
  notice_failed: 'notice_failed_at',
  pre_reset: 'pre_reset_at',
  link_sent: 'link_sent_at',
  completed: 'completed_at',
};

export type StateCounts = Record<ProgressState, number>;

export function emptyCounts(): StateCounts {
  return Object.fromEntries(PROGRESS_STATES.map((s) => [s, 0])) as StateCounts;
}
