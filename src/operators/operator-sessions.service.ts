import { HttpException, HttpStatus, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { newOpaqueToken, sha256Hex } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { RateLimiterService } from '../rate-limit/rate-limiter.service.js';
import { RedisService } from '../redis/redis.module.js';
import type { AuthenticatedOperator } from './roles.decorator.js';

/** Sign-in attempts allowed per window, per operator name and per client address. */
export const SIGN_IN_LIMITS = { windowSeconds: 15 * 60, perUsername: 10, perAddress: 50 } as const;
/** How long the count of failures not written to the audit log waits for that address's next entry. */
const UNRECORDED_FAILURES_KEPT_SECONDS = 30 * 86_400;
/** lastSeenAt is written at most this often, so a polling dashboard does not write on every request. */
const TOUCH_INTERVAL_MS = 30_000;

export class SignInThrottledException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('too many sign-in attempts; wait a few minutes and try again', HttpStatus.TOO_MANY_REQUESTS);
  }
}

/**
 * Dashboard sign-in sessions for operators, kept apart from end-user sessions (own table, own cookie).
 * The browser holds a random id; only its SHA-256 is stored. Sessions end after an idle and an absolute timeout.
 */
@Injectable()
export class OperatorSessionsService {
  readonly cookieName: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly hasher: PasswordHasherService,
    private readonly audit: AuditService,
    private readonly limiter: RateLimiterService,
  ) {
    // __Host- pins the cookie to this origin and path; browsers only accept it with Secure.
    this.cookieName = config.http.secureCookies ? '__Host-ro_operator' : 'ro_operator';
  }

  cookieOptions(): { httpOnly: true; sameSite: 'lax'; secure: boolean; path: '/'; maxAge: number } {
    return { httpOnly: true, sameSite: 'lax', secure: this.config.http.secureCookies, path: '/', maxAge: this.config.sessions.absoluteTimeoutSeconds * 1000 };
  }

  /** Checks the password and opens a new session (a fresh id at every sign-in). */
  async signIn(username: string, password: string, address: string): Promise<{ sessionId: string; operator: AuthenticatedOperator }> {
    const name = username.trim().toLowerCase();
    await this.throttle(name, address);
    const operator = await this.prisma.operator.findUnique({ where: { username: name } });
    const valid = operator && !operator.disabledAt ? await this.hasher.verify(operator.passwordHash, password) : await this.hasher.verifyAgainstDummy(password);
    if (!operator || !valid) {
      await this.recordFailure(name, address);
      throw new UnauthorizedException('unknown operator or wrong password');
    }
    await this.redis.del(this.limitKey('u', name));
    const sessionId = newOpaqueToken();
    const now = Date.now();
    await this.prisma.$transaction(async (tx) => {
      await tx.operatorSession.create({
        data: {
          idHash: sha256Hex(sessionId),
          operatorId: operator.id,
          csrfToken: newOpaqueToken(),
          expiresAt: new Date(now + this.config.sessions.absoluteTimeoutSeconds * 1000),
        },
      });
      await this.audit.record(tx, { actor: `operator:${operator.username}`, action: 'operator.sign-in', details: { address } });
    });
    return { sessionId, operator: { id: operator.id, username: operator.username, role: operator.role } };
  }

  /** The operator behind a session cookie, or null when it is unknown, revoked, idle too long, past its absolute expiry or disabled. */
  async resolve(sessionId: string): Promise<AuthenticatedOperator | null> {
    if (sessionId.length < 20 || sessionId.length > 100) return null;
    const idHash = sha256Hex(sessionId);
    const row = await this.prisma.operatorSession.findUnique({ where: { idHash }, include: { operator: true } });
    const now = Date.now();
    if (!row || row.revokedAt || row.operator.disabledAt) return null;
    if (row.expiresAt.getTime() <= now || row.lastSeenAt.getTime() + this.config.sessions.idleTimeoutSeconds * 1000 <= now) return null;
    if (now - row.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
      await this.prisma.operatorSession.update({ where: { idHash }, data: { lastSeenAt: new Date(now) } });
    }
    return { id: row.operator.id, username: row.operator.username, role: row.operator.role, session: { idHash, csrfToken: row.csrfToken } };
  }

  async signOut(operator: AuthenticatedOperator): Promise<void> {
    if (!operator.session) return;
    const { idHash } = operator.session;
    await this.prisma.$transaction(async (tx) => {
      await tx.operatorSession.updateMany({ where: { idHash, revokedAt: null }, data: { revokedAt: new Date() } });
      await this.audit.record(tx, { actor: `operator:${operator.username}`, action: 'operator.sign-out' });
    });
  }

  /**
   * Anyone can fail a sign-in, so failures must not grow the audit log at a client's will: the first failure per address
   * and window is recorded, the later ones are counted and the count goes into that address's next entry.
   */
  private async recordFailure(username: string, address: string): Promise<void> {
    const unrecorded = this.limiter.key('operator-sign-in-failures-unrecorded', address);
    const first = await this.limiter.consume([{ key: this.limiter.key('operator-sign-in-failure-recorded', address), max: 1 }]);
    if (!first.allowed) {
      await this.redis.multi().incr(unrecorded).expire(unrecorded, UNRECORDED_FAILURES_KEPT_SECONDS).exec();
      return;
    }
    const earlier = Number((await this.redis.getdel(unrecorded)) ?? 0);
    await this.audit.recordNow({
      actor: 'system',
      action: 'operator.sign-in.failed',
      details: { username: username.slice(0, 100), address, ...(earlier ? { unrecordedEarlierFailures: earlier } : {}) },
    });
  }

  private limitKey(kind: 'u' | 'a', value: string): string {
    return `${this.config.redis.queuePrefix}:operator-sign-in:${kind}:${sha256Hex(value)}`;
  }

  private async throttle(username: string, address: string): Promise<void> {
    const checks = [
      [this.limitKey('u', username), SIGN_IN_LIMITS.perUsername],
      [this.limitKey('a', address), SIGN_IN_LIMITS.perAddress],
    ] as const;
    for (const [key, limit] of checks) {
      const [[, count], , [, ttl]] = (await this.redis.multi().incr(key).expire(key, SIGN_IN_LIMITS.windowSeconds, 'NX').ttl(key).exec()) as [
        [null, number],
        [null, number],
        [null, number],
      ];
      if (count > limit) throw new SignInThrottledException(Math.max(ttl, 1));
    }
  }
}
