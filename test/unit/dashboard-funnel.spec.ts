import { afterEach, describe, expect, it, vi } from 'vitest';
import { completionChartSvg } from '../../src/dashboard/completion-chart.js';
import { formatDuration, funnelFromCounts } from '../../src/dashboard/funnel.js';
import { StaleWhileRevalidateCache } from '../../src/dashboard/stale-cache.js';
import { emptyCounts } from '../../src/progress/progress-states.js';

describe('funnel from the per-state counters', () => {
  it('counts each step as "reached at least", with failed notices as a side branch', () => {
    const f = funnelFromCounts({ ...emptyCounts(), flagged: 10, notice_sent: 40, notice_failed: 5, pre_reset: 15, link_sent: 10, completed: 15, cancelled: 5 });
    expect(f.affected).toBe(100);
    expect(f.pending).toBe(80);
    expect(f.completionPercent).toBe(15);
    expect(Object.fromEntries(f.steps.map((s) => [s.key, s.count]))).toEqual({
      flagged: 100,
      notice_sent: 80,
      notice_failed: 5,
      pre_reset: 40,
      link_sent: 25,
      completed: 15,
    });
  });

  it('has no division by zero for an empty campaign', () => {
    const f = funnelFromCounts(emptyCounts());
    expect(f.completionPercent).toBe(0);
    expect(f.steps.every((s) => s.percent === 0)).toBe(true);
  });

  it('formats durations for people', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(250)).toBe('4 min 10 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(3 * 86400 + 4 * 3600)).toBe('3 d 4 h');
  });
});

describe('completion chart', () => {
  it('draws the cumulative curve against the affected count with a bounded number of points', () => {
    const start = new Date('2026-01-01T10:00:00Z');
    const end = new Date('2026-01-01T11:00:00Z');
    const points = Array.from({ length: 48 }, (_, i) => ({ at: new Date(start.getTime() + (i + 1) * 75_000), cumulative: (i + 1) * 10 }));
    const svg = completionChartSvg(points, 1000, start, end);
    expect(svg.match(/L/g)!.length).toBeGreaterThanOrEqual(48);
    expect(svg).toContain('aria-label="Completed resets over time: 480 of 1,000');
    expect(svg).toContain('10:00 UTC');
    expect(svg).toContain('11:00 UTC');
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(completionChartSvg([], 0, start, start)).not.toMatch(/NaN|Infinity/);
  });
});

describe('stale-while-revalidate cache', () => {
  afterEach(() => vi.useRealTimers());

  it('runs one load for concurrent callers and serves the old value while refreshing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = new StaleWhileRevalidateCache<number>();
    let loads = 0;
    let release: (v: number) => void = () => undefined;
    const load = () => {
      loads += 1;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const a = cache.get('k', 1000, load);
    const b = cache.get('k', 1000, load);
    release(1);
    expect(await Promise.all([a, b])).toEqual([1, 1]);
    expect(loads).toBe(1);
    expect(await cache.get('k', 1000, load)).toBe(1);
    expect(loads).toBe(1);
    vi.setSystemTime(Date.now() + 1001);
    // Stale now: the old value comes back at once and one refresh starts.
    expect(await cache.get('k', 1000, load)).toBe(1);
    expect(await cache.get('k', 1000, load)).toBe(1);
    expect(loads).toBe(2);
    release(2);
    await Promise.resolve();
    await Promise.resolve();
    expect(await cache.get('k', 1000, load)).toBe(2);
    expect(loads).toBe(2);
  });

  it('does not keep a failed first load', async () => {
    const cache = new StaleWhileRevalidateCache<number>();
    await expect(cache.get('k', 1000, () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await cache.get('k', 1000, async () => 3)).toBe(3);
  });
});
