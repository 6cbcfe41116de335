import { HttpException, HttpStatus, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { newOpaqueToken, sha256Hex } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Operator } from '../generated/prisma/client.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { KNOWN_DEVICE_DAYS, RateLimiterService } from '../rate-limit/rate-limiter.service.js';
import { RedisService } from '../redis/redis.module.js';
import type { AuthenticatedOperator } from './roles.decorator.js';

/** Failed sign-ins allowed per rate-limit window, per operator name and per client address; password checks at once per name. */
export const SIGN_IN_LIMITS = { failuresPerName: 10, failuresPerAddress: 50, checksInFlightPerName: 2 } as const;
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
  /** Marks a browser that signed in before, so the sign-in limits do not lock it out (RateLimiterService.signIn). */
  readonly deviceCookieName: string;

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
    this.deviceCookieName = config.http.secureCookies ? '__Host-ro_operator_device' : 'ro_operator_device';
  }

  cookieOptions(): { httpOnly: true; sameSite: 'lax'; secure: boolean; path: '/'; maxAge: number } {
    return { httpOnly: true, sameSite: 'lax', secure: this.config.http.secureCookies, path: '/', maxAge: this.config.sessions.absoluteTimeoutSeconds * 1000 };
  }

  deviceCookieOptions(): ReturnType<OperatorSessionsService['cookieOptions']> {
    return { ...this.cookieOptions(), maxAge: KNOWN_DEVICE_DAYS * 86_400_000 };
  }

  /**
   * Checks the password within the failure limits and opens a new session (a fresh id at every sign-in). `device` is
   * the browser's known-device cookie; the answer carries a new one.
   */
  async signIn(
    username: string,
    password: string,
    client: { address: string; device?: string },
  ): Promise<{ sessionId: string; device?: string; operator: AuthenticatedOperator }> {
    const name = username.trim().toLowerCase();
    const found = await this.prisma.operator.findUnique({ where: { username: name } });
    const knownDevice = found && !found.disabledAt ? { token: client.device, binding: found.passwordHash } : undefined;
    const { address } = client;
    const attempt = await this.limiter.signIn('operator-sign-in', { name, address, knownDevice }, SIGN_IN_LIMITS, () => this.checkPassword(found, password));
    if (!attempt.allowed) throw new SignInThrottledException(attempt.retryAfterSeconds);
    const operator = attempt.value;
    if (!operator) {
      await this.recordFailure(name, address);
      throw new UnauthorizedException('unknown operator or wrong password');
    }
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
    return { sessionId, device: attempt.device, operator: { id: operator.id, username: operator.username, role: operator.role } };
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

  /** The operator if this password opens it and it is enabled, or null; unknown and disabled names cost a dummy verification. */
  private async checkPassword(operator: Operator | null, password: string): Promise<Operator | null> {
    const usable = operator && !operator.disabledAt ? operator : null;
    const valid = usable ? await this.hasher.verify(usable.passwordHash, password) : await this.hasher.verifyAgainstDummy(password);
    return valid ? usable : null;
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
}
