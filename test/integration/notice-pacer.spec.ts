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
    const interval = 1000 / rate;
    // The n-th start cannot come before n intervals: timers only ever fire late, and the schedule was never behind.
    starts.forEach((at, n) => expect(at).toBeGreaterThanOrEqual(n * interval - 2));
  });

  it('keeps at most rate + 1 sends started or ended within the last second, across processes, however long they take', async () => {
    const rate = 20;
    const sends: Array<{ start: number; end: number }> = [];
    // Sends of 300 ms: slots come every 50 ms, so tokens run out before the first send's second is over.
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const slot = await pacers[i % 2]!.waitForSlot({ campaignId: 31, rate, domain: 'example.org', domainRates: {} });
        if ('deferMs' in slot) throw new Error('not put off: no domain rate');
        const start = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 300));
        sends.push({ start, end: performance.now() });
        await slot.finished();
      }),
    );
    // When each send started, at most `rate` others had started and not ended a second before (1 ms: the test's
    // clock against Redis').
    for (const send of sends) {
      const holding = sends.filter((other) => other !== send && other.start <= send.start && other.end > send.start - 1000 + 1);
      expect(holding.length).toBeLessThanOrEqual(rate);
    }
    // Sends 22 to 30 had to wait for a token: the 22nd starts a second after the first ended, not at 21 × 50 ms.
    const starts = sends.map((s) => s.start).sort((a, b) => a - b);
    const firstEnd = Math.min(...sends.map((s) => s.end));
    expect(starts[rate + 1]).toBeGreaterThanOrEqual(firstEnd + 1000 - 1);
  });

  it('applies a raised rate from the next send, not after the slot the old rate had set', async () => {
    const pace = (rate: number) => pacers[0]!.waitForSlot({ campaignId: 41, rate, domain: 'example.org', domainRates: {} });
    const lastStart = async () => Number((await redises[0]!.get(`${config.redis.queuePrefix}:notice-pace:41`))!.split(':')[1]);
    await pace(1);
    const first = await lastStart();
    await pace(200);
    // Redis' clock, in microseconds: at 1/s the next slot was a second after the first start, at 200/s it is 5 ms.
    expect((await lastStart()) - first).toBeLessThan(500_000);
  });

  it('does not pace a campaign whose rate a millisecond timer cannot space', async () => {
    await Promise.all(Array.from({ length: 200 }, () => pacers[0]!.waitForSlot({ campaignId: 3, rate: 10_000, domain: 'example.org', domainRates: {} })));
    expect(await redises[0]!.exists(`${config.redis.queuePrefix}:notice-pace:3`)).toBe(0);
  });

  it('shares a domain slot across campaigns and puts a send off, reserving nothing, when its domain has no slot soon', async () => {
    const domainRates = { 'gmail.test': 1 };
    const pace = (campaignId: number, domain: string) => pacers[campaignId % 2]!.waitForSlot({ campaignId, rate: 100, domain, domainRates });
    expect(await pace(11, 'gmail.test')).not.toHaveProperty('deferMs');
    // Another campaign's send to the same domain, within the second: put off by about a second (1/s).
    const deferred = await pace(12, 'gmail.test');
    expect(deferred).toHaveProperty('deferMs');
    expect((deferred as { deferMs: number }).deferMs).toBeGreaterThan(900);
    expect((deferred as { deferMs: number }).deferMs).toBeLessThanOrEqual(1001);
    // Nothing was reserved for the put-off send: its campaign's next send to another domain is not held back.
    expect(await redises[0]!.exists(`${config.redis.queuePrefix}:notice-pace:12`)).toBe(0);
    expect(await pace(12, 'other.test')).not.toHaveProperty('deferMs');
  });

  it('lets a send wait up to two queue windows for its domain, without holding back its campaign\'s mail to other domains', async () => {
    // 100/s: slots every 10 ms, the queue's limiter window is 64 ms; the domain's slots come every 100 ms.
    const domainRates = { 'narrow.test': 10 };
    const began = performance.now();
    const pace = (domain: string) =>
      pacers[0]!.waitForSlot({ campaignId: 41, rate: 100, domain, domainRates }).then((slot) => ({ slot, at: performance.now() - began }));
    const [first, second, other, third] = await Promise.all([pace('narrow.test'), pace('narrow.test'), pace('other.test'), pace('narrow.test')]);
    expect([first, second, other].map(({ slot }) => 'deferMs' in slot)).toEqual([false, false, false]);
    // The second waited for the domain's slot at 100 ms; the campaign's next slot (20 ms) went to other.test.
    expect(second.at).toBeGreaterThanOrEqual(100 - 2);
    expect(other.at).toBeLessThan(second.at);
    // The domain's next slot (200 ms) is more than two windows past the campaign's (30 ms): put off.
    expect((third.slot as { deferMs: number }).deferMs).toBeGreaterThan(128);
  });

  it('halves a domain\'s rate after a slow-down reply and reports it as slowed', async () => {
    const domainRates = { 'slow.test': 2, 'steady.test': 2 };
    const pace = (domain: string) => pacers[0]!.waitForSlot({ campaignId: 21, rate: 100, domain, domainRates });
    await pacers[1]!.slowDown('slow.test', '421 4.7.0 Try again later');
    await pacers[0]!.slowDown('slow.test', '421 4.7.0 Try again later');
    expect([...(await pacers[0]!.slowedDomains()).keys()]).toEqual(['slow.test']);
    expect(await pace('slow.test')).not.toHaveProperty('deferMs');
    expect(await pace('steady.test')).not.toHaveProperty('deferMs');
    // 2/s is 500 ms between sends; halved, 1000 ms.
    const deferMs = async (domain: string) => ((await pace(domain)) as { deferMs: number }).deferMs;
    expect(await deferMs('steady.test')).toBeLessThanOrEqual(501);
    expect(await deferMs('slow.test')).toBeGreaterThan(900);
  });
});
