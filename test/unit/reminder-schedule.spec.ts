import { describe, expect, it } from 'vitest';
import { dueReminders, formatReminderSchedule, parseReminderSchedule } from '../../src/notifications/notices/reminder-schedule.js';

describe('reminder schedules', () => {
  it('reads offsets in s, m, h and d, increasing, and writes them back', () => {
    expect(parseReminderSchedule('3d,7d,14d')).toEqual([259_200, 604_800, 1_209_600]);
    expect(parseReminderSchedule(' 2s, 4s ')).toEqual([2, 4]);
    expect(parseReminderSchedule('')).toEqual([]);
    expect(formatReminderSchedule([259_200, 90, 7200])).toBe('3d,90s,2h');
  });

  it('refuses what is not a schedule', () => {
    expect(() => parseReminderSchedule('7d,3d')).toThrow('"3d": each reminder must come after the one before');
    expect(() => parseReminderSchedule('3d,3d')).toThrow('after the one before');
    expect(() => parseReminderSchedule('0s')).toThrow('at least 1s');
    expect(() => parseReminderSchedule('soon')).toThrow('"soon" is not an offset');
    expect(() => parseReminderSchedule(Array.from({ length: 21 }, (_, i) => `${i + 1}d`).join(','))).toThrow('at most 20 reminders');
  });

  it('counts the reminders due since launch, up to the maximum', () => {
    const launched = new Date('2026-12-01T00:00:00Z');
    const at = (seconds: number) => new Date(launched.getTime() + seconds * 1000);
    expect(dueReminders([10, 20, 30], null, launched, at(9))).toBe(0);
    expect(dueReminders([10, 20, 30], null, launched, at(20))).toBe(2);
    expect(dueReminders([10, 20, 30], 2, launched, at(100))).toBe(2);
    expect(dueReminders([10, 20, 30], null, null, at(100))).toBe(0);
  });
});
