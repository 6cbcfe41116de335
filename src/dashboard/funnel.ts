import type { StateCounts } from '../progress/progress-states.js';

export interface FunnelStep {
  key: string;
  label: string;
  count: number;
  /** Share of the affected accounts, 0–100. */
  percent: number;
}

export interface Funnel {
  affected: number;
  completed: number;
  pending: number;
  cancelled: number;
  completionPercent: number;
  steps: FunnelStep[];
}

function percentOf(count: number, total: number): number {
  return total ? Math.round((count / total) * 1000) / 10 : 0;
}

/**
 * The funnel from the per-state counters. Progress only moves forward, so the accounts that reached a step
 * "at least" are those in it now plus those in every later state; a failed notice is a side branch.
 */
export function funnelFromCounts(c: StateCounts): Funnel {
  const affected = Object.values(c).reduce((sum, n) => sum + n, 0);
  const linkSent = c.link_sent + c.completed;
  const preReset = c.pre_reset + linkSent;
  const steps: Array<Omit<FunnelStep, 'percent'>> = [
    { key: 'flagged', label: 'Flagged', count: affected },
    { key: 'notice_sent', label: 'Notified or further', count: c.notice_sent + preReset },
    { key: 'notice_failed', label: 'Notice failed', count: c.notice_failed },
    { key: 'pre_reset', label: 'Reached pre-reset page', count: preReset },
    { key: 'link_sent', label: 'Reset link sent', count: linkSent },
    { key: 'completed', label: 'Password changed', count: c.completed },
  ];
  return {
    affected,
    completed: c.completed,
    pending: c.flagged + c.notice_sent + c.notice_failed + c.pre_reset + c.link_sent,
    cancelled: c.cancelled,
    completionPercent: percentOf(c.completed, affected),
    steps: steps.map((s) => ({ ...s, percent: percentOf(s.count, affected) })),
  };
}

/** "42 s", "4 min 10 s", "2 h 5 min", "3 d 4 h". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** One formatter for every count: toLocaleString builds a new one per call, which shows on a busy dashboard. */
const COUNT_FORMAT = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return COUNT_FORMAT.format(n);
}
