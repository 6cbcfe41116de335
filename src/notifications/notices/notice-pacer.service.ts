import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { RedisService } from '../../redis/redis.module.js';
import { PACED_UP_TO, paceIntervalMicros } from './notice-rate.js';

/**
 * Reserves the next send slot of a campaign (a zero-burst GCRA on Redis' clock, shared by every worker process):
 * returns how many microseconds the caller must wait before its send may start.
 */
const RESERVE_SLOT = `
local now = redis.call('TIME')
local nowMicros = tonumber(now[1]) * 1000000 + tonumber(now[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), nowMicros)
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil(interval / 1000) + 60000)
return tostring(slot - nowMicros)`;

/** After this many late wake-ups in a row (a machine too busy to keep any pace), the send goes anyway. */
const MAX_LATE_WAKE_UPS = 5;

/**
 * Spaces a campaign's send starts evenly at its rate. The queue's limiter lets jobs out in small windows, with a
 * millisecond or so of overhead per window (sends ran 2-4% under the rate) and sends that arrive together after a
 * stall; here each send takes the next slot right before SMTP, so the receiving server sees a steady rate.
 */
@Injectable()
export class NoticePacerService {
  private readonly reserve: (key: string, interval: string) => Promise<string>;
  private readonly prefix: string;

  constructor(
    redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    redis.defineCommand('reserveNoticeSlot', { numberOfKeys: 1, lua: RESERVE_SLOT });
    this.reserve = (redis as unknown as { reserveNoticeSlot: (key: string, interval: string) => Promise<string> }).reserveNoticeSlot.bind(redis);
    this.prefix = config.redis.queuePrefix;
  }

  /**
   * Waits for the campaign's next send slot. Timers that fall due during an event-loop stall all fire together when
   * it ends; a send that wakes more than a slot late takes a fresh slot instead of going out in that bunch.
   */
  async waitForSlot(campaignId: number, rate: number): Promise<void> {
    if (rate > PACED_UP_TO) return;
    const waiting = this.metrics.pacerWaitSeconds.startTimer();
    try {
      await this.waitInTurn(campaignId, rate);
    } finally {
      waiting();
    }
  }

  private async waitInTurn(campaignId: number, rate: number): Promise<void> {
    const key = `${this.prefix}:notice-pace:${campaignId}`;
    const interval = paceIntervalMicros(rate);
    for (let attempt = 0; attempt < MAX_LATE_WAKE_UPS; attempt++) {
      const waitMs = Number(await this.reserve(key, String(interval))) / 1000;
      // setTimeout cannot wait less than a millisecond; a start a fraction of a millisecond early is within the pace.
      if (waitMs < 1) return;
      const wakeAt = performance.now() + waitMs;
      await new Promise((resolve) => setTimeout(resolve, Math.round(waitMs)));
      if ((performance.now() - wakeAt) * 1000 <= interval) return;
    }
  }
}
