import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { RedisService } from '../../redis/redis.module.js';
import { ANY_DOMAIN, type DomainRates, rateForDomain } from './domain-rates.js';
import { PACED_UP_TO, paceIntervalMicros, queueLimitFor } from './notice-rate.js';

/**
 * A send holds its token this long after its SMTP conversation ended. The receiver stamps a message before it
 * answers, and a later send cannot arrive before it starts; so with at most R + 1 tokens out, no second at the
 * receiver holds more than R + 1, however much the sends' start-to-arrival times vary.
 */
const RELEASE_AFTER_MS = 1000;

/** How long a token outlives a sender that died mid-send (SMTP's socket timeout is 30 s). */
const TOKEN_LEASE_MICROS = 60_000_000;

/**
 * How far behind its schedule a campaign may fall and still make the slots up (a stall of the sending process). Kept
 * short: a worker's slow first sends leave credit too, and making that up puts a short run above the rate.
 */
const CATCH_UP_MICROS = 25_000;

/**
 * Reserves the next send slot of one notice under up to three GCRAs on Redis' clock, shared by every worker process:
 * the campaign's (KEYS[1]), the recipient domain's (KEYS[2], across all campaigns) and the global cap's (KEYS[3]).
 * KEYS[4] is the sorted set of slowed-down domains, ARGV[5] the domain. ARGV[1] is the most a send may wait beyond
 * its campaign slot for the other two; ARGV[2..4] are the keys' intervals in microseconds (0: not paced by that key);
 * ARGV[6] is how far the campaign's schedule may fall behind Redis' clock. A slowed domain's interval doubles; an
 * unpaced slowed domain gets twice the campaign interval. The campaign key holds "<schedule>:<last start>": slots a
 * stall left unused (up to ARGV[6] of them; none before the first send) are made up, at most one per half interval,
 * so the mean stays at the rate; the next slot is at most one interval of the current rate after the last start, so a
 * raised rate applies from the next send. The domain and global keys are zero-burst. A send that waits for its domain or the
 * global cap still takes the campaign slot it was given: were the campaign's schedule moved on to the later slot, the
 * campaign's mail to other domains would wait behind it. Returns the wait in microseconds, or `-<wait>` when the send
 * should be put off instead (nothing is reserved then).
 */
const RESERVE_SLOT = `
local now = redis.call('TIME')
local nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
local intervals = { tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) }
local slowUntil = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[5]) or '0')
if slowUntil * 1000 > nowMicros then
  intervals[2] = intervals[2] > 0 and intervals[2] * 2 or intervals[1] * 2
end
local own = redis.call('GET', KEYS[1])
local schedule, last = string.match(own or '0:0', '^(%d+):?(%d*)$')
local credit = own and math.max(math.min(tonumber(schedule), (tonumber(last) or 0) + intervals[1]), nowMicros - tonumber(ARGV[6])) or nowMicros
local start = math.max(credit, (tonumber(last) or 0) + math.floor(intervals[1] / 2), nowMicros)
local slot = start
for i = 2, 3 do
  if intervals[i] > 0 then slot = math.max(slot, tonumber(redis.call('GET', KEYS[i]) or '0')) end
end
if slot - start > tonumber(ARGV[1]) then return '-' .. string.format('%.0f', slot - nowMicros) end
if intervals[1] > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f:%.0f', credit + intervals[1], start), 'PX', math.ceil(intervals[1] / 1000) + 60000)
end
for i = 2, 3 do
  if intervals[i] > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', slot + intervals[i]), 'PX', math.ceil(intervals[i] / 1000) + 60000)
  end
end
return string.format('%.0f', slot - nowMicros)`;

/**
 * Takes one send token from each of up to three sorted sets (KEYS[1..3]: campaign, domain, global; ARGV[3..5] their
 * capacities, 0: not limited by that key; KEYS[4] and ARGV[6] the slowed domains and the domain, which halve its
 * capacity). A token is held from the send's start until a second after its SMTP conversation ended (ARGV[2] is the
 * lease if the sender dies first). Returns 0 when member ARGV[1] holds a token in each, or the microseconds until the
 * next one is released.
 */
const TAKE_TOKEN = `
local now = redis.call('TIME')
local nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
local caps = { tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]) }
local slowUntil = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[6]) or '0')
if slowUntil * 1000 > nowMicros then
  caps[2] = caps[2] > 0 and math.floor((caps[2] - 1) / 2) + 1 or math.floor((caps[1] - 1) / 2) + 1
end
local wait = 0
for i = 1, 3 do
  if caps[i] > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', nowMicros)
    if redis.call('ZCARD', KEYS[i]) >= caps[i] then
      local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      wait = math.max(wait, tonumber(first[2]) - nowMicros)
    end
  end
end
if wait > 0 then return string.format('%.0f', wait) end
local lease = nowMicros + tonumber(ARGV[2])
for i = 1, 3 do
  if caps[i] > 0 then
    redis.call('ZADD', KEYS[i], lease, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2]) / 1000) + ${RELEASE_AFTER_MS})
  end
end
return '0'`;

/** The send is over: its tokens go back a second from now (on Redis' clock). */
const RETURN_TOKEN = `
local now = redis.call('TIME')
local releaseAt = tonumber(now[1]) * 1000000 + tonumber(now[2]) + ${RELEASE_AFTER_MS * 1000}
for i = 1, #KEYS do
  if redis.call('ZSCORE', KEYS[i], ARGV[1]) then redis.call('ZADD', KEYS[i], releaseAt, ARGV[1]) end
end
return 0`;

/** Marks a domain slowed until ARGV[2] (ms) unless it already is; returns 1 when this call slowed it. */
const SLOW_DOWN = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[2]), ARGV[1])
return 1`;

/** Tokens for a rate: a one-second span at the receiver holds at most rate + 1 sends. */
function tokensFor(rate: number): number {
  return Math.floor(rate) + 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.round(ms)));
}

/** The slot of a send no key limits (a rate above PACED_UP_TO, no domain rate, no global cap). */
const UNLIMITED: SendSlot = { finished: () => Promise.resolve() };

/** After this many late wake-ups in a row (a machine too busy to keep any pace), the send goes anyway. */
const MAX_LATE_WAKE_UPS = 5;

/** How long a domain stays at half rate after it answered 421 or 4.7.x. */
export const SLOW_DOWN_MS = 10 * 60_000;

export interface EffectiveRate {
  /** A domain, or `*` for each domain not named. */
  domain: string;
  /** Notices per second now: the campaign's rate for the domain, halved while the domain is slowed down. */
  rate: number;
  slowedUntil?: Date;
}

export interface NoticePace {
  campaignId: number;
  /** The campaign's notices per second. */
  rate: number;
  domain: string;
  domainRates: DomainRates;
}

/** The send may start now: call `finished()` once its SMTP conversation is over, accepted or not. */
export interface SendSlot {
  finished(): Promise<void>;
}

/** A slot, or how many ms to put the send off for its domain or the global cap. */
export type PaceResult = SendSlot | { deferMs: number };

interface PacerCommands {
  reserveNoticeSlot(campaignKey: string, domainKey: string, globalKey: string, slowedKey: string, hold: string, campaign: string, domain: string, global: string, domainName: string, catchUp: string): Promise<string>;
  takeNoticeToken(campaignKey: string, domainKey: string, globalKey: string, slowedKey: string, member: string, lease: string, campaign: string, domain: string, global: string, domainName: string): Promise<string>;
  returnNoticeToken(campaignKey: string, domainKey: string, globalKey: string, member: string): Promise<number>;
  slowNoticeDomain(slowedKey: string, domain: string, ms: string): Promise<number>;
}

/**
 * Spaces notice send starts evenly: each campaign at its rate, each recipient domain at the campaign's rate for it
 * (all campaigns together), and everything under MAIL_GLOBAL_RATE. The queue's limiter lets jobs out in small windows,
 * with a millisecond or so of overhead per window (sends ran 2-4% under the rate) and sends that arrive together after
 * a stall; here each send takes the next slot right before SMTP, so the receiving server sees a steady rate. The
 * slots alone cannot bound a second at the receiver (sends held up in flight arrive together), so each send also
 * holds one of rate + 1 tokens until a second after it ended.
 */
@Injectable()
export class NoticePacerService {
  private readonly logger = new Logger(NoticePacerService.name);
  private readonly commands: PacerCommands;
  private readonly prefix: string;
  private readonly globalInterval: number;
  private readonly globalTokens: number;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    redis.defineCommand('reserveNoticeSlot', { numberOfKeys: 4, lua: RESERVE_SLOT });
    redis.defineCommand('takeNoticeToken', { numberOfKeys: 4, lua: TAKE_TOKEN });
    redis.defineCommand('returnNoticeToken', { numberOfKeys: 3, lua: RETURN_TOKEN });
    redis.defineCommand('slowNoticeDomain', { numberOfKeys: 1, lua: SLOW_DOWN });
    this.commands = redis as unknown as PacerCommands;
    this.prefix = config.redis.queuePrefix;
    this.globalInterval = config.mail.globalRate ? paceIntervalMicros(config.mail.globalRate) : 0;
    this.globalTokens = config.mail.globalRate ? tokensFor(config.mail.globalRate) : 0;
  }

  private get slowedKey(): string {
    return `${this.prefix}:notice-slowed-domains`;
  }

  /**
   * Waits for the notice's send slot, or says to put the send off when its domain or the global cap has no slot
   * soon. Timers that fall due during an event-loop stall all fire together when it ends; a send that wakes more than
   * a slot late takes a fresh slot instead of going out in that bunch.
   */
  async waitForSlot(pace: NoticePace): Promise<PaceResult> {
    const waiting = this.metrics.pacerWaitSeconds.startTimer();
    try {
      return await this.waitInTurn(pace);
    } finally {
      waiting();
    }
  }

  private async waitInTurn(pace: NoticePace): Promise<PaceResult> {
    const paced = pace.rate <= PACED_UP_TO;
    const campaignInterval = paced ? paceIntervalMicros(pace.rate) : 0;
    const domainRate = rateForDomain(pace.domainRates, pace.domain);
    const domainInterval = domainRate ? paceIntervalMicros(domainRate) : 0;
    // Jobs come out of the queue's limiter a window's worth at a time, and a put-off job goes to the back of the
    // queue: a send may wait up to two windows for its domain, so one window's jobs take every slot until the next
    // window's, which comes a little late (with one window's hold a domain ran 2-7% under its rate).
    const hold = Math.max(campaignInterval, 2 * queueLimitFor(pace.rate).duration * 1000);
    const interval = Math.max(campaignInterval, domainInterval, this.globalInterval);
    // Above PACED_UP_TO, with no domain rate or global cap, nothing here limits the send: no Redis round trip for it.
    if (!interval) return UNLIMITED;
    const keys = this.keys(pace);
    for (let attempt = 0; attempt < MAX_LATE_WAKE_UPS; attempt++) {
      const reply = await this.commands.reserveNoticeSlot(
        keys.campaign,
        keys.domain,
        keys.global,
        this.slowedKey,
        String(hold),
        String(campaignInterval),
        String(domainInterval),
        String(this.globalInterval),
        pace.domain,
        String(CATCH_UP_MICROS),
      );
      if (reply.startsWith('-')) return { deferMs: Math.max(1, Math.ceil(Number(reply.slice(1)) / 1000)) };
      const waitMs = Number(reply) / 1000;
      // setTimeout cannot wait less than a millisecond; a start a fraction of a millisecond early is within the pace.
      if (waitMs < 1) break;
      const wakeAt = performance.now() + waitMs;
      await sleep(waitMs);
      if ((performance.now() - wakeAt) * 1000 <= interval) break;
    }
    const tokens = [paced ? tokensFor(pace.rate) : 0, domainRate ? tokensFor(domainRate) : 0, this.globalTokens];
    if (!tokens.some(Boolean)) return UNLIMITED;
    return this.takeToken(pace, tokens);
  }

  private keys(pace: NoticePace): { campaign: string; domain: string; global: string } {
    return {
      campaign: `${this.prefix}:notice-pace:${pace.campaignId}`,
      domain: `${this.prefix}:notice-pace-domain:${pace.domain}`,
      global: `${this.prefix}:notice-pace-global`,
    };
  }

  private async takeToken(pace: NoticePace, tokens: number[]): Promise<SendSlot> {
    const member = randomUUID();
    const keys = this.keys(pace);
    const [campaign, domain, global] = [`${keys.campaign}:tokens`, `${keys.domain}:tokens`, `${keys.global}:tokens`];
    for (;;) {
      const wait = Number(await this.commands.takeNoticeToken(campaign, domain, global, this.slowedKey, member, String(TOKEN_LEASE_MICROS), String(tokens[0]), String(tokens[1]), String(tokens[2]), pace.domain));
      if (wait === 0) break;
      await sleep(Math.max(1, wait / 1000));
    }
    return {
      // A token that is not returned (Redis unreachable) is held until its lease ends: fewer sends, never more.
      finished: () => this.commands.returnNoticeToken(campaign, domain, global, member).then(() => undefined, () => undefined),
    };
  }

  /** A domain answered "slow down" (421, 4.7.x): halve its rate for SLOW_DOWN_MS, logged once per slow-down. */
  async slowDown(domain: string, reply: string): Promise<void> {
    if (await this.commands.slowNoticeDomain(this.slowedKey, domain, String(SLOW_DOWN_MS))) {
      this.logger.warn(`${domain} asked to slow down (${reply.slice(0, 120)}): notices to it go at half rate for ${SLOW_DOWN_MS / 60_000} minutes`);
    }
  }

  /**
   * What a campaign sends at now, per domain: the named domains and `*` at their configured rates, and every domain
   * slowed down at half its rate (which for a domain without its own rate is half the campaign's).
   */
  async effectiveRates(rate: number, domainRates: DomainRates): Promise<{ campaign: number; global?: number; domains: EffectiveRate[] }> {
    const slowed = await this.slowedDomains();
    const named = Object.keys(domainRates).filter((d) => d !== ANY_DOMAIN);
    const domains = new Set([...named, ...(ANY_DOMAIN in domainRates ? [ANY_DOMAIN] : []), ...slowed.keys()]);
    return {
      campaign: rate,
      global: this.config.mail.globalRate,
      domains: [...domains].map((domain) => {
        const until = slowed.get(domain);
        const configured = rateForDomain(domainRates, domain) ?? rate;
        return until ? { domain, rate: configured / 2, slowedUntil: until } : { domain, rate: configured };
      }),
    };
  }

  /** Domains at half rate now, with when that ends. */
  async slowedDomains(): Promise<Map<string, Date>> {
    const entries = await this.redis.zrangebyscore(this.slowedKey, Date.now(), '+inf', 'WITHSCORES');
    const slowed = new Map<string, Date>();
    for (let i = 0; i < entries.length; i += 2) slowed.set(entries[i], new Date(Number(entries[i + 1])));
    return slowed;
  }
}
