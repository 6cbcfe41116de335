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
    await Promise.all(Array.from({ length: 40 }, (_, i) => pacers[i % 2]!.waitForSlot({ campaignId: 1, rate, domain: 'example.org', domainRates: {} }).then(() => starts.push(performance.now() - began))));
    starts.sort((a, b) => a - b);
    // 100/s paced at a 98% share: one start every 1000 / 98 ms.
    const interval = 1000 / 98;
    // The n-th start cannot come before n intervals: timers only ever fire late, and a slot missed is not made up.
    starts.forEach((at, n) => expect(at).toBeGreaterThanOrEqual(n * interval - 2));
  });

  it('does not pace a campaign whose rate a millisecond timer cannot space', async () => {
    await Promise.all(Array.from({ length: 200 }, () => pacers[0]!.waitForSlot({ campaignId: 3, rate: 10_000, domain: 'example.org', domainRates: {} })));
    expect(await redises[0]!.exists(`${config.redis.queuePrefix}:notice-pace:3`)).toBe(0);
  });

  it('shares a domain slot across campaigns and puts a send off, reserving nothing, when its domain has no slot soon', async () => {
    const domainRates = { 'gmail.test': 1 };
    const pace = (campaignId: number, domain: string) => pacers[campaignId % 2]!.waitForSlot({ campaignId, rate: 100, domain, domainRates });
    expect(await pace(11, 'gmail.test')).toBeUndefined();
    // Another campaign's send to the same domain, within the second: put off by about a second (1/s, paced 2% under).
    const deferred = await pace(12, 'gmail.test');
    expect(deferred?.deferMs).toBeGreaterThan(900);
    expect(deferred?.deferMs).toBeLessThanOrEqual(1021);
    // Nothing was reserved for the put-off send: its campaign's next send to another domain is not held back.
    expect(await redises[0]!.exists(`${config.redis.queuePrefix}:notice-pace:12`)).toBe(0);
    expect(await pace(12, 'other.test')).toBeUndefined();
  });

  it('halves a domain\'s rate after a slow-down reply and reports it as slowed', async () => {
    const domainRates = { 'slow.test': 2, 'steady.test': 2 };
    const pace = (domain: string) => pacers[0]!.waitForSlot({ campaignId: 21, rate: 100, domain, domainRates });
    await pacers[1]!.slowDown('slow.test', '421 4.7.0 Try again later');
    await pacers[0]!.slowDown('slow.test', '421 4.7.0 Try again later');
    expect([...(await pacers[0]!.slowedDomains()).keys()]).toEqual(['slow.test']);
    expect(await pace('slow.test')).toBeUndefined();
    expect(await pace('steady.test')).toBeUndefined();
    // 2/s paced 2% under is 510 ms between sends; halved, 1020 ms.
    expect((await pace('steady.test'))?.deferMs).toBeLessThanOrEqual(511);
    expect((await pace('slow.test'))?.deferMs).toBeGreaterThan(900);
  });
});
