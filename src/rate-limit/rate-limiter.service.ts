import { sha256Hex } from '../common/tokens.js';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { RedisService } from '../redis/redis.module.js';

export interface Limit {
  key: string;
  max: number;
}

/** Checks every key first and counts only when all are under their limit: a refused attempt uses up nothing. */
const CONSUME = `
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[i + 1]) then return {i, redis.call('PTTL', KEYS[i])} end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return {0, 0}`;

export type LimitResult = { allowed: true } | { allowed: false; limit: Limit; retryAfterSeconds: number };

/** Fixed-window counters in Redis, so limits hold across every API instance. */
@Injectable()
export class RateLimiterService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  /** A key under the queue prefix; identifiers are hashed so odd input never shapes the key. */
  key(scope: string, identifier: string): string {
    return `${this.config.redis.queuePrefix}:limit:${scope}:${sha256Hex(identifier).slice(0, 32)}`;
  }

  /** Counts one use against every limit, unless one of them is already used up. */
  async consume(limits: Limit[]): Promise<LimitResult> {
    const window = this.config.limits.windowSeconds * 1000;
    const [index, pttl] = (await this.redis.eval(CONSUME, limits.length, ...limits.map((l) => l.key), window, ...limits.map((l) => l.max))) as [number, number];
    if (!index) return { allowed: true };
    return { allowed: false, limit: limits[index - 1], retryAfterSeconds: Math.max(1, Math.ceil(pttl / 1000)) };
  }

  /** Whether any limit is used up, without counting. */
  async check(limits: Limit[]): Promise<LimitResult> {
    const counts = await this.redis.mget(...limits.map((l) => l.key));
    const index = limits.findIndex((l, i) => Number(counts[i] ?? 0) >= l.max);
    if (index < 0) return { allowed: true };
    const pttl = await this.redis.pttl(limits[index].key);
    return { allowed: false, limit: limits[index], retryAfterSeconds: Math.max(1, Math.ceil(pttl / 1000)) };
  }

  async hit(limits: Limit[]): Promise<void> {
    const window = this.config.limits.windowSeconds * 1000;
    const multi = this.redis.multi();
    for (const l of limits) multi.incr(l.key).pexpire(l.key, window, 'NX');
    await multi.exec();
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(key);
  }
}

export function minutesText(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
