import { parseDuration } from '../../config/app-config.js';
import type { ProgressState } from '../../generated/prisma/enums.js';
import { OPEN_STATES } from '../../progress/progress-states.js';

/** Past a handful, reminders stop moving anyone (field data: diminishing returns after the third). */
export const MAX_REMINDERS = 20;

/** The template every reminder uses: link-free like the notice, with the campaign's phrase. */
export const REMINDER_TEMPLATE = 'breach-reminder';

/** Parses `3d,7d,14d` (or `2s,4s` in tests) into increasing offsets in seconds after launch; an empty text means none. */
export function parseReminderSchedule(text: string): number[] {
  const offsets: number[] = [];
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    let seconds: number;
    try {
      seconds = parseDuration(entry);
    } catch {
      throw new Error(`"${entry}" is not an offset like 3d, 12h, 30m or 2s`);
    }
    if (seconds < 1) throw new Error(`"${entry}": a reminder must come at least 1s after launch`);
    if (offsets.length && seconds <= offsets[offsets.length - 1]) throw new Error(`"${entry}": each reminder must come after the one before`);
    offsets.push(seconds);
  }
  if (offsets.length > MAX_REMINDERS) throw new Error(`at most ${MAX_REMINDERS} reminders`);
  return offsets;
}

/** `[259200, 604800]` → `3d,7d`, in the largest unit that divides each offset. */
export function formatReminderSchedule(offsets: readonly number[]): string {
  const units: Array<[string, number]> = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  return offsets.map((s) => {
    const [unit, size] = units.find(([, size]) => s % size === 0)!;
    return `${s / size}${unit}`;
  }).join(',');
}

/** The offsets that count: the first `maxReminders` of the schedule. */
export function effectiveOffsets(offsets: readonly number[], maxReminders: number | null): number[] {
  return offsets.slice(0, maxReminders ?? offsets.length);
}

/** How many reminders of the schedule are due at `now` (the latest due is the one to send). */
export function dueReminders(offsets: readonly number[], maxReminders: number | null, launchedAt: Date | null, now: Date): number {
  if (!launchedAt) return 0;
  const elapsed = (now.getTime() - launchedAt.getTime()) / 1000;
  return effectiveOffsets(offsets, maxReminders).filter((s) => s <= elapsed).length;
}

/**
 * Who a reminder goes to: accounts still open whose notice went out. Not `flagged` (their first notice is still to
 * come) and not `notice_failed` (no verified address, refused or bounced).
 */
export const REMINDED_STATES: ProgressState[] = OPEN_STATES.filter((s) => s !== 'flagged' && s !== 'notice_failed');
