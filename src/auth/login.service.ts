import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Account } from '../generated/prisma/client.js';
import type { SessionKind } from '../generated/prisma/enums.js';
import { DirectoryUnavailableError } from '../directory/directory-errors.js';
import { DirectoryService } from '../directory/directory.service.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { LoginDto } from './dto/login.dto.js';
import type { Outcome } from './page-responder.service.js';
import { RateLimiterService, type Limit, minutesText } from '../rate-limit/rate-limiter.service.js';
import { SessionsService } from './sessions.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

export const INVALID_CREDENTIALS = 'The username or password is incorrect.';
export const DIRECTORY_UNAVAILABLE = 'Your password cannot be checked right now because the directory does not answer. Try again in a few minutes.';

export type SignIn =
  | { ok: true; account: Account; kind: SessionKind; sessionId: string }
  | { ok: false; status: 401 | 429 | 503; message: string };

const NOTICES: Record<string, string> = {
  'password-changed': 'Your password was changed and every session was signed out. Sign in with your new password.',
  'signed-out': 'You are signed out.',
};

@Injectable()
export class LoginService {
  private readonly logger = new Logger(LoginService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    private readonly limiter: RateLimiterService,
    private readonly sessions: SessionsService,
    private readonly directory: DirectoryService,
  ) {}

  page(notice: string | undefined, session?: ActiveSession): Outcome {
    return {
      page: 'login',
      title: 'Sign in',
      loginForm: true,
      vars: { notice: notice ? NOTICES[notice] : undefined, signedInAs: session?.username },
    };
  }

  async submit(form: LoginDto, ip: string, current?: ActiveSession): Promise<Outcome> {
    const result = await this.signIn(form, ip, current);
    if (!result.ok) return { page: 'login', title: 'Sign in', status: result.status, loginForm: true, vars: { error: result.message, username: form.username } };
    return { redirect: homeOf(result.kind), session: result.sessionId, json: { kind: result.kind } };
  }

  /**
   * Verifies a username and password with one answer for every failure (an unknown username costs a dummy
   * verification, so the time tells nothing), within per-account and per-IP failure limits, and starts a new
   * session whose kind decides what the user may reach.
   */
  async signIn(form: LoginDto, ip: string, current?: ActiveSession): Promise<SignIn> {
    const username = form.username.trim().toLowerCase();
    const limits: Limit[] = [
      { key: this.limiter.key('login-ip', ip), max: this.config.limits.loginFailuresPerIp },
      { key: this.limiter.key('login-account', username), max: this.config.limits.loginFailuresPerAccount },
    ];
    const limited = await this.limiter.check(limits);
    if (!limited.allowed) {
      return { ok: false, status: 429, message: `Too many failed sign-in attempts. Wait ${minutesText(limited.retryAfterSeconds)} and try again.` };
    }

    const account = username ? await this.prisma.account.findUnique({ where: { username } }) : null;
    const verified = await this.checkPassword(account, form.password);
    if (verified === 'unavailable') return { ok: false, status: 503, message: DIRECTORY_UNAVAILABLE };
    if (!account || !verified) {
      await this.limiter.hit(limits);
      return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    }

    await this.limiter.clear(limits[1].key);
    if (current) await this.sessions.revoke(current.idHash);
    const kind = this.sessionKind(verified === 'must-change' ? { ...account, passwordExpired: true } : account);
    // A directory password is kept nowhere here, not even the case-folded hash a restricted session holds.
    const sessionId = await this.sessions.create(account.id, kind, account.directoryDn ? undefined : form.password);
    this.logger.log(`account ${account.id} signed in (${kind} session)`);
    return { ok: true, account, kind, sessionId };
  }

  /** The one password check of a sign-in: a bind as the directory DN, the stored hash, or the dummy for unknown users. */
  private async checkPassword(account: Account | null, password: string): Promise<boolean | 'must-change' | 'unavailable'> {
    if (!account?.directoryDn) {
      return account?.passwordHash ? this.hasher.verify(account.passwordHash, password) : this.hasher.verifyAgainstDummy(password);
    }
    try {
      const [bound] = await Promise.all([this.directory.verifyPassword(account.directoryDn, password), this.hasher.waitAsLongAsAVerify()]);
      return bound;
    } catch (err) {
      if (!(err instanceof DirectoryUnavailableError)) throw err;
      this.logger.warn(`account ${account.id} could not sign in: ${err.detail}`);
      return 'unavailable';
    }
  }

  private sessionKind(account: Account): SessionKind {
    // An administrator's temporary password outranks the breach flag (the help desk has checked who the user is);
    // the breach flag outranks plain expiry, whose password-only change would not need the mailbox.
    if (account.passwordExpired) return 'password_change';
    if (account.mustReset) return 'pre_reset';
    const days = this.config.passwords.expiryDays;
    const expired = Boolean(days && account.passwordChangedAt && account.passwordChangedAt.getTime() + days * 86_400_000 <= Date.now());
    return expired ? 'password_change' : 'full';
  }
}
