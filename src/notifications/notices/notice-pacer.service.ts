import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { RedisService } from '../../redis/redis.module.js';
import { ANY_DOMAIN, type DomainRates, rateForDomain } from './domain-rates.js';
import { PACED_UP_TO, paceIntervalMicros } from './notice-rate.js';

/**
 * Reserves the next send slot of one notice under up to three zero-burst GCRAs on Redis' clock, shared by every
 * worker process: the campaign's (KEYS[1]), the recipient domain's (KEYS[2], across all campaigns) and the global
 * cap's (KEYS[3]). KEYS[4] is the sorted set of slowed-down domains, ARGV[5] the domain. ARGV[1] is the most a send
 * may wait beyond its campaign slot for the other two; ARGV[2..4] are the keys' intervals in microseconds (0: not
 * paced by that key). A slowed domain's interval doubles; an unpaced slowed domain gets twice the campaign interval.
 * Returns the wait in microseconds, or `-<wait>` when the send should be put off instead (nothing is reserved then,
 * so a send that waits for its domain never holds back the campaign's mail to other domains).
 */
const RESERVE_SLOT = `
local now = redis.call('TIME')
local nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
local intervals = { tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) }
local slowUntil = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[5]) or '0')
if slowUntil * 1000 > nowMicros then
  intervals[2] = intervals[2] > 0 and intervals[2] * 2 or intervals[1] * 2
end
local own = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), nowMicros)
local slot = own
for i = 2, 3 do
  if intervals[i] > 0 then slot = math.max(slot, tonumber(redis.call('GET', KEYS[i]) or '0')) end
end
if slot - own > tonumber(ARGV[1]) then return '-' .. string.format('%.0f', slot - nowMicros) end
for i = 1, 3 do
  if intervals[i] > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', slot + intervals[i]), 'PX', math.ceil(intervals[i] / 1000) + 60000)
  end
end
return string.format('%.0f', slot - nowMicros)`;

/** Marks a domain slowed until ARGV[2] (ms) unless it already is; returns 1 when this call slowed it. */
const SLOW_DOWN = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[2]), ARGV[1])
return 1`;

/** After this many late wake-ups in a row (a machine too busy to keep any pace), the send goes anyway. */
const MAX_LATE_WAKE_UPS = 5;

/** A send waits at most this long beyond its campaign slot for its domain or the global cap before it is put off. */
const MIN_HOLD_MICROS = 5_000;

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

/** `undefined` when the send may start now; otherwise how many ms to put the send off for its domain or the global cap. */
export type PaceResult = undefined | { deferMs: number };

interface PacerCommands {
  reserveNoticeSlot(campaignKey: string, domainKey: string, globalKey: string, slowedKey: string, hold: string, campaign: string, domain: string, global: string, domainName: string): Promise<string>;
  slowNoticeDomain(slowedKey: string, domain: string, ms: string): Promise<number>;
}

/**
 * Spaces notice send starts evenly: each campaign at its rate, each recipient domain at the campaign's rate for it
 * (all campaigns together), and everything under MAIL_GLOBAL_RATE. The queue's limiter lets jobs out in small windows,
 * with a millisecond or so of overhead per window (sends ran 2-4% under the rate) and sends that arrive together after
 * a stall; here each send takes the next slot right before SMTP, so the receiving server sees a steady rate.
 */
@Injectable()
export class NoticePacerService {
  private readonly logger = new Logger(NoticePacerService.name);
  private readonly commands: PacerCommands;
  private readonly prefix: string;
  private readonly globalInterval: number;

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    redis.defineCommand('reserveNoticeSlot', { numberOfKeys: 4, lua: RESERVE_SLOT });
    redis.defineCommand('slowNoticeDomain', { numberOfKeys: 1, lua: SLOW_DOWN });
    this.commands = redis as unknown as PacerCommands;
    this.prefix = config.redis.queuePrefix;
    this.globalInterval = config.mail.globalRate ? paceIntervalMicros(config.mail.globalRate) : 0;
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
    const campaignInterval = pace.rate > PACED_UP_TO ? 0 : paceIntervalMicros(pace.rate);
    const domainRate = rateForDomain(pace.domainRates, pace.domain);
    const domainInterval = domainRate ? paceIntervalMicros(domainRate) : 0;
    const hold = Math.max(campaignInterval, MIN_HOLD_MICROS);
    const interval = Math.max(campaignInterval, domainInterval, this.globalInterval);
    for (let attempt = 0; attempt < MAX_LATE_WAKE_UPS; attempt++) {
      const reply = await this.commands.reserveNoticeSlot(
        `${this.prefix}:notice-pace:${pace.campaignId}`,
        `${this.prefix}:notice-pace-domain:${pace.domain}`,
        `${this.prefix}:notice-pace-global`,
        this.slowedKey,
        String(hold),
        String(campaignInterval),
        String(domainInterval),
        String(this.globalInterval),
        pace.domain,
      );
      if (reply.startsWith('-')) return { deferMs: Math.max(1, Math.ceil(Number(reply.slice(1)) / 1000)) };
      const waitMs = Number(reply) / 1000;
      // setTimeout cannot wait less than a millisecond; a start a fraction of a millisecond early is within the pace.
      if (waitMs < 1) return undefined;
      const wakeAt = performance.now() + waitMs;
      await new Promise((resolve) => setTimeout(resolve, Math.round(waitMs)));
      if ((performance.now() - wakeAt) * 1000 <= interval) return undefined;
    }
    return undefined;
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
