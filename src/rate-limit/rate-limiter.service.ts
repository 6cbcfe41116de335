import { BlockList, isIP } from 'node:net';
import { newOpaqueToken, sha256Hex } from '../common/tokens.js';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { RedisService } from '../redis/redis.module.js';

export interface Limit {
  key: string;
  max: number;
  /** Counts attempts running at once rather than uses in the window: held only until the attempt ends. */
  inFlight?: boolean;
}

/** How long an in-flight slot outlives a process that died holding it. */
const IN_FLIGHT_HOLD_MS = 30_000;

/**
 * Checks every key first and counts only when all are under their limit: a refused attempt uses up nothing.
 * ARGV: window ms, in-flight hold ms, then per key its max and whether it is an in-flight key.
 */
const CONSUME = `
local n = #KEYS
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 + i]) then return {i, redis.call('PTTL', KEYS[i])} end
end
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if ARGV[2 + n + i] == '1' then redis.call('PEXPIRE', KEYS[i], ARGV[2])
  elseif count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return {0, 0}`;

/** Gives uses back; never below zero, and never re-creating a key whose window ended meanwhile. */
const GIVE_BACK = `
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0`;

/** What one sign-in flow allows: failures per window per name and per client address, password checks at once per name. */
export interface SignInLimits {
  failuresPerName: number;
  failuresPerAddress: number;
  checksInFlightPerName: number;
}

export interface SignInClient {
  name: string;
  address: string;
  /** The browser's known-device token (from its cookie), and the credential a token is bound to; absent: no exemption. */
  knownDevice?: { token: string | undefined; binding: string };
}

/** A success may carry a new known-device token for the browser's cookie. */
export type SignInAttempt<T> = Attempt<T | null> & { device?: string };

/** How long a browser stays known after its last successful sign-in. */
export const KNOWN_DEVICE_DAYS = 30;

export type LimitResult = { allowed: true } | { allowed: false; limit: Limit; retryAfterSeconds: number };
export type Attempt<T> = { allowed: true; value: T } | { allowed: false; limit: Limit; retryAfterSeconds: number };

/** Fixed-window counters in Redis, so limits hold across every API instance. */
@Injectable()
export class RateLimiterService {
  /** LIMIT_NETWORKS, narrowest first. */
  private readonly networks: Array<{ addresses: BlockList; failuresPerAddress: number }>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    this.networks = [...config.limits.networks]
      .sort((a, b) => b.prefix - a.prefix)
      .map((n) => {
        const addresses = new BlockList();
        addresses.addSubnet(n.address, n.prefix, n.family);
        return { addresses, failuresPerAddress: n.loginFailuresPerIp };
      });
  }

  /** A key under the queue prefix; identifiers are hashed so odd input never shapes the key. */
  key(scope: string, identifier: string): string {
    return `${this.config.redis.queuePrefix}:limit:${scope}:${sha256Hex(identifier).slice(0, 32)}`;
  }

  /** Counts one use against every limit, unless one of them is already used up. */
  async consume(limits: Limit[]): Promise<LimitResult> {
    const window = this.config.limits.windowSeconds * 1000;
    const maxes = limits.map((l) => l.max);
    const inFlight = limits.map((l) => (l.inFlight ? '1' : '0'));
    const keys = limits.map((l) => l.key);
    const [index, pttl] = (await this.redis.eval(CONSUME, limits.length, ...keys, window, IN_FLIGHT_HOLD_MS, ...maxes, ...inFlight)) as [number, number];
    if (!index) return { allowed: true };
    return { allowed: false, limit: limits[index - 1], retryAfterSeconds: Math.max(1, Math.ceil(pttl / 1000)) };
  }

  /**
   * One sign-in: `check` verifies the credentials (a password hash, or whatever else proves them) and returns what
   * they open, or null. Only failures count; a success also forgives the earlier failures it was counted with.
   *
   * A browser that signed in to this name before, with the credential it still has (`knownDevice.binding`, e.g. the
   * stored hash), counts its failures against its own budget instead of the name's and the address's: so neither a
   * flood from a shared address nor someone else's guessing at the name locks it out. Each success hands out a new
   * known-device token; a changed credential ends every earlier one.
   */
  async signIn<T>(scope: string, who: SignInClient, max: SignInLimits, check: () => Promise<T | null>): Promise<SignInAttempt<T>> {
    const checking: Limit = { key: this.key(`${scope}-checking`, who.name), max: max.checksInFlightPerName, inFlight: true };
    const binding = who.knownDevice && sha256Hex(`${scope}\0${who.name}\0${who.knownDevice.binding}`);
    const presented = who.knownDevice?.token;
    const known = Boolean(binding && presented && (await this.redis.get(this.key(`${scope}-device`, presented))) === binding);
    // The failures a success forgives: the device's own when it is known (the name's are someone else's), else the name's.
    const failures: Limit = known
      ? { key: this.key(`${scope}-device-failures`, presented ?? ''), max: max.failuresPerName }
      : { key: this.key(`${scope}-name`, who.name), max: max.failuresPerName };
    const address: Limit = { key: this.key(`${scope}-address`, who.address), max: this.failuresPerAddress(who.address, max.failuresPerAddress) };
    const attempt = await this.attempt(known ? [failures, checking] : [address, failures, checking], check, (value) => value !== null);
    if (!attempt.allowed || attempt.value === null) return attempt;

    await this.clear(failures.key);
    if (!binding) return attempt;
    const device = newOpaqueToken();
    await this.redis.set(this.key(`${scope}-device`, device), binding, 'PX', KNOWN_DEVICE_DAYS * 86_400_000);
    if (presented) await this.redis.del(this.key(`${scope}-device`, presented));
    return { ...attempt, device };
  }

  /** Whether any limit is used up, without counting. */
  async check(limits: Limit[]): Promise<LimitResult> {
    const counts = await this.redis.mget(...limits.map((l) => l.key));
    const index = limits.findIndex((l, i) => Number(counts[i] ?? 0) >= l.max);
    if (index < 0) return { allowed: true };
    const pttl = await this.redis.pttl(limits[index].key);
    return { allowed: false, limit: limits[index], retryAfterSeconds: Math.max(1, Math.ceil(pttl / 1000)) };
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(key);
  }

  /**
   * Runs a check that only a failure should count against, e.g. a password check: one use of every limit is
   * reserved atomically before it runs, so concurrent attempts cannot all pass a limit that has one use left.
   * A success gives the reservation back; in-flight slots are freed whatever the outcome. A check that throws
   * decided nothing and gives everything back.
   */
  private async attempt<T>(limits: Limit[], check: () => Promise<T>, succeeded: (value: T) => boolean): Promise<Attempt<T>> {
    const reserved = await this.consume(limits);
    if (!reserved.allowed) return reserved;
    let value: T;
    try {
      value = await check();
    } catch (err) {
      await this.giveBack(limits);
      throw err;
    }
    await this.giveBack(succeeded(value) ? limits : limits.filter((l) => l.inFlight));
    return { allowed: true, value };
  }

  /** The per-address failure limit: its network's where LIMIT_NETWORKS names one, else the flow's own. */
  private failuresPerAddress(address: string, otherwise: number): number {
    // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; networks are written as plain IPv4.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const plain = mapped ?? address;
    const version = isIP(plain);
    if (!version) return otherwise;
    const network = this.networks.find((n) => n.addresses.check(plain, version === 4 ? 'ipv4' : 'ipv6'));
    return network?.failuresPerAddress ?? otherwise;
  }

  private async giveBack(limits: Limit[]): Promise<void> {
    if (limits.length) await this.redis.eval(GIVE_BACK, limits.length, ...limits.map((l) => l.key));
  }
}

export function minutesText(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
