import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { PreSessionCsrf } from '../common/csrf.js';
import { isOpaqueToken, newOpaqueToken, sha256Hex } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { SessionKind } from '../generated/prisma/enums.js';
import { CaseFoldedPasswordService } from '../passwords/case-folded-password.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { KNOWN_DEVICE_DAYS } from '../rate-limit/rate-limiter.service.js';
import { RedisService } from '../redis/redis.module.js';
import type { ActiveSession } from './user-page.decorator.js';

/** lastSeenAt is written at most this often per session. */
const TOUCH_EVERY_MS = 15_000;

export interface CookieOptions {
  httpOnly: true;
  sameSite: 'lax';
  secure: boolean;
  path: '/';
}

/** End-user sessions: an opaque id in an HttpOnly cookie, only its SHA-256 in the database; idle and absolute expiry. */
@Injectable()
export class SessionsService {
  readonly cookieName: string;
  /** Marks a browser that signed in before (see RateLimiterService.signIn); outlives sessions and sign-outs. */
  readonly deviceCookieName: string;
  /** The double-submit token of forms posted before there is a session (sign-in). */
  readonly loginCsrf: PreSessionCsrf;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly caseFolded: CaseFoldedPasswordService,
  ) {
    // __Host- pins the cookie to this origin and path; browsers only accept it over https.
    this.cookieName = config.http.secureCookies ? '__Host-ro_session' : 'ro_session';
    this.deviceCookieName = config.http.secureCookies ? '__Host-ro_device' : 'ro_device';
    this.loginCsrf = new PreSessionCsrf(config.http.secureCookies);
  }

  cookieOptions(): CookieOptions {
    return { httpOnly: true, sameSite: 'lax', secure: this.config.http.secureCookies, path: '/' };
  }

  deviceCookieOptions(): CookieOptions & { maxAge: number } {
    return { ...this.cookieOptions(), maxAge: KNOWN_DEVICE_DAYS * 86_400_000 };
  }

  /**
   * A new session with a new id (never a reused one: no fixation); returns the cookie value, shown once.
   * A restricted session also keeps a keyed hash of the lower-cased password it signed in with, so the
   * new password can be refused when it differs from the current one only in case (a stored hash cannot tell).
   */
  async create(accountId: number, kind: SessionKind, password?: string): Promise<string> {
    const id = newOpaqueToken();
    const idHash = sha256Hex(id);
    const now = new Date();
    // Both writes at once, so a restricted (must-reset) sign-in takes no longer than a normal one. If either fails the
    // sign-in fails and its id is never handed out: what the other wrote is an unreachable leftover that expires.
    await Promise.all([
      kind !== 'full' && password !== undefined
        ? this.redis.set(this.caseFoldKey(idHash), this.caseFolded.seal(password), 'EX', this.config.sessions.absoluteTimeoutSeconds)
        : undefined,
      this.prisma.session.create({
        data: {
          idHash,
          accountId,
          kind,
          csrfToken: newOpaqueToken(),
          createdAt: now,
          lastSeenAt: now,
          expiresAt: new Date(now.getTime() + this.config.sessions.absoluteTimeoutSeconds * 1000),
        },
      }),
    ]);
    return id;
  }

  /** The live session behind the request's cookie, or undefined when it is absent, unknown, revoked, idle too long or expired. */
  async fromRequest(req: Request): Promise<ActiveSession | undefined> {
    const id: unknown = req.cookies?.[this.cookieName];
    if (!isOpaqueToken(id)) return undefined;
    const row = await this.prisma.session.findUnique({ where: { idHash: sha256Hex(id) }, include: { account: { select: { username: true } } } });
    const now = Date.now();
    if (!row || row.revokedAt || row.expiresAt.getTime() <= now) return undefined;
    if (row.lastSeenAt.getTime() + this.config.sessions.idleTimeoutSeconds * 1000 <= now) return undefined;
    if (now - row.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
      await this.prisma.session.updateMany({ where: { idHash: row.idHash, revokedAt: null }, data: { lastSeenAt: new Date(now) } });
    }
    return { idHash: row.idHash, accountId: row.accountId, username: row.account.username, kind: row.kind, csrfToken: row.csrfToken };
  }

  async revoke(idHash: string): Promise<void> {
    await this.prisma.session.updateMany({ where: { idHash, revokedAt: null }, data: { revokedAt: new Date() } });
    await this.redis.del(this.caseFoldKey(idHash));
  }

  /** The lower-cased sign-in password's hash kept with a restricted session, if any. */
  async caseFoldedPassword(idHash: string): Promise<string | undefined> {
    return (await this.redis.get(this.caseFoldKey(idHash))) ?? undefined;
  }

  /** After a password change: the kept hashes belong to a password that is gone. */
  async forgetCaseFoldedPasswords(accountId: number): Promise<void> {
    const since = new Date(Date.now() - this.config.sessions.absoluteTimeoutSeconds * 1000);
    const rows = await this.prisma.session.findMany({ where: { accountId, kind: { not: 'full' }, createdAt: { gt: since } }, select: { idHash: true } });
    if (rows.length) await this.redis.del(...rows.map((r) => this.caseFoldKey(r.idHash)));
  }

  private caseFoldKey(idHash: string): string {
    return `${this.config.redis.queuePrefix}:session-casefold:${idHash}`;
  }
}
