/** The highest notice rate a campaign (or a recipient domain) may be given, per second across all workers. */
export const MAX_NOTICE_RATE = 10_000;

export interface RateLimit {
  max: number;
  duration: number;
}

/**
 * The shortest limiter window we ask BullMQ for. Each window costs the worker about a millisecond of waking up and
 * fetching (a 20 ms window runs 2-4% under the rate); wider windows send bigger bursts.
 */
const MIN_WINDOW_MS = 20;

/**
 * Turns messages/second into BullMQ's fixed-window limiter (max jobs per `duration` ms). A 1-second window of `rate`
 * would let a whole second's worth out in one burst, and two bursts can fall inside one second; small windows spread
 * the sends evenly, so any one-second span holds at most rate + max - 1 (rate + 1 up to 50/s). The window is rounded
 * up, so the rate is never exceeded; among the few window sizes tried, the one closest to the requested rate wins.
 */
export function rateLimitFor(rate: number): RateLimit {
  if (!Number.isFinite(rate) || rate <= 0) throw new Error('the notice rate must be a positive number');
  let best: RateLimit = { max: 1, duration: Math.ceil(1000 / rate) };
  const first = Math.max(1, Math.ceil((rate * MIN_WINDOW_MS) / 1000));
  for (let max = first; max <= first + 4; max++) {
    const candidate = { max, duration: Math.max(MIN_WINDOW_MS, Math.ceil((max * 1000) / rate)) };
    const error = (c: RateLimit) => Math.abs(rate - (c.max * 1000) / c.duration);
    if (best.duration < MIN_WINDOW_MS || error(candidate) < error(best)) best = candidate;
  }
  return best;
}

/**
 * How many notices one worker sends at once for a campaign: as few as the rate needs when each send takes up to
 * `sendBudgetMs`. The limiter spaces send starts; sends in flight together can arrive together after a stall, so
 * keeping them few keeps every one-second span at the rate (+1) as seen by the receiving server too.
 */
export function sendSlotsFor(rate: number, sendBudgetMs: number, maxSlots: number): number {
  return Math.min(maxSlots, Math.max(1, Math.ceil((rate * sendBudgetMs) / 1000)));
}

/** Above this rate a millisecond timer cannot space sends: the queue's limiter alone holds the rate. */
export const PACED_UP_TO = 1000;

/**
 * Microseconds between two send starts of a campaign paced at `rate` per second. Paced at the rate itself: the
 * pacer's tokens, not a margin under the rate, keep start-to-arrival jitter from putting more than rate + 1 into a
 * second at the receiver.
 */
export function paceIntervalMicros(rate: number): number {
  return Math.ceil(1_000_000 / rate);
}

/**
 * The queue's limiter for a campaign. Where sends are paced, it is set a little above the pace, so it only keeps a
 * worker from fetching far ahead and the pacer alone sets the rate.
 */
export function queueLimitFor(rate: number): RateLimit {
  return rateLimitFor(rate <= PACED_UP_TO ? Math.min(rate * 1.1, PACED_UP_TO) : rate);
}
