import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { NoticePacerService } from '../../src/notifications/notices/notice-pacer.service.js';
import { RedisService } from '../../src/redis/redis.module.js';

describe('NoticePacerService', () => {
  const config = loadConfig({ NODE_ENV: 'test', QUEUE_PREFIX: `pacer-${randomBytes(4).toString('hex')}` });
  // Two worker processes' pacers, each with its own Redis connection, sharing one campaign.
  const redises = [new RedisService(config), new RedisService(config)];
  const pacers = redises.map((redis) => new NoticePacerService(redis, config, new MetricsService()));

  afterAll(() => redises.forEach((redis) => redis.disconnect()));

  it('hands out one slot per interval across processes: send starts are spaced at the pace, never bunched', async () => {
    const rate = 100;
    const starts: number[] = [];
    const began = performance.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => pacers[i % 2]!.waitForSlot(1, rate).then(() => starts.push(performance.now() - began))));
    starts.sort((a, b) => a - b);
    // 100/s paced at a 98% share: one start every 1000 / 98 ms.
    const interval = 1000 / 98;
    // The n-th start cannot come before n intervals: timers only ever fire late, and a slot missed is not made up.
    starts.forEach((at, n) => expect(at).toBeGreaterThanOrEqual(n * interval - 2));
  });

  it('does not pace a campaign whose rate a millisecond timer cannot space', async () => {
    await Promise.all(Array.from({ length: 200 }, () => pacers[0]!.waitForSlot(3, 10_000)));
    expect(await redises[0]!.exists(`${config.redis.queuePrefix}:notice-pace:3`)).toBe(0);
  });
});
