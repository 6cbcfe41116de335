import { describe, expect, it } from 'vitest';
import { PACED_UP_TO, paceIntervalMicros, queueLimitFor, rateLimitFor } from '../../src/notifications/notices/notice-rate.js';

describe('rateLimitFor', () => {
  it('spreads a rate evenly in small windows', () => {
    expect(rateLimitFor(50)).toEqual({ max: 1, duration: 20 });
    expect(rateLimitFor(20)).toEqual({ max: 1, duration: 50 });
    expect(rateLimitFor(1)).toEqual({ max: 1, duration: 1000 });
    expect(rateLimitFor(2000)).toEqual({ max: 40, duration: 20 });
  });

  it.each([1, 3, 7, 50, 99, 250, 333, 1000, 4999, 10_000])('never exceeds %i per second and stays close to it', (rate) => {
    const { max, duration } = rateLimitFor(rate);
    const effective = (max * 1000) / duration;
    expect(effective).toBeLessThanOrEqual(rate);
    expect(effective).toBeGreaterThan(rate * 0.95);
    expect(duration).toBeGreaterThanOrEqual(20);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => rateLimitFor(0)).toThrow();
  });
});

describe('pacing', () => {
  it('paces sends at the rate itself, never above it (the pacer\'s tokens, not a margin, hold a second at rate + 1)', () => {
    for (const rate of [1, 50, 200, 999]) {
      const perSecond = 1_000_000 / paceIntervalMicros(rate);
      expect(perSecond).toBeLessThanOrEqual(rate);
      expect(perSecond).toBeGreaterThan(rate * 0.995);
    }
  });

  it('lets the queue fetch a little ahead of a paced rate, and limits an unpaced rate itself', () => {
    const perSecond = ({ max, duration }: { max: number; duration: number }) => (max * 1000) / duration;
    expect(perSecond(queueLimitFor(200))).toBeGreaterThan(200);
    expect(perSecond(queueLimitFor(200))).toBeLessThanOrEqual(220);
    expect(queueLimitFor(PACED_UP_TO + 1)).toEqual(rateLimitFor(PACED_UP_TO + 1));
  });
});
