import { describe, expect, it } from 'vitest';
import { rateLimitFor } from '../../src/notifications/notices/notice-rate.js';

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
