import { Inject, Injectable, Logger } from '@nestjs/common';
import { canonicalUsername } from '../accounts/identity.js';
import { signInKind } from '../accounts/sign-in-kind.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Account } from '../generated/prisma/client.js';
import type { SessionKind } from '../generated/prisma/enums.js';
import { DirectoryUnavailableError } from '../directory/directory-errors.js';
import { DirectoryService } from '../directory/directory.service.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { MetricsService, type SignInOutcome } from '../metrics/metrics.service.js';
import type { LoginDto } from './dto/login.dto.js';
import type { Outcome, SignInRequest } from './page-responder.service.js';
import { RateLimiterService, minutesText } from '../rate-limit/rate-limiter.service.js';
import { SessionsService } from './sessions.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

export const INVALID_CREDENTIALS = 'The username or password is incorrect.';
export const DIRECTORY_UNAVAILABLE = 'Your password cannot be checked right now because the directory does not answer. Try again in a few minutes.';

export type SignIn =
  | { ok: true; account: Account; kind: SessionKind; sessionId: string; device?: string }
  | { ok: false; status: 401 | 429 | 503; message: string };

/** Password checks one account may have running at once; a burst beyond it is refused rather than queued on the hashing threads. */
const CHECKS_IN_FLIGHT_PER_ACCOUNT = 2;

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
    private readonly metrics: MetricsService,
    private readonly directory: DirectoryService,
  ) {}

  page(notice: string | undefined, session?: ActiveSession): Outcome {
    return {
      page: 'login',
      title: 'Sign in',
      loginForm: true,
      vars: { notice: notice ? NOTICES[notice] : undefined, noticeCode: notice && NOTICES[notice] ? notice : undefined, signedInAs: session?.username },
    };
  }

  async submit(form: LoginDto, client: SignInRequest, current?: ActiveSession): Promise<Outcome> {
    const result = await this.signIn(form, client, current);
    if (!result.ok) {
      const errorCode = result.status === 401 ? 'invalid-credentials' : undefined;
      return { page: 'login', title: 'Sign in', status: result.status, loginForm: true, vars: { error: result.message, errorCode, username: form.username } };
    }
    return { redirect: homeOf(result.kind), session: result.sessionId, device: result.device, json: { kind: result.kind } };
  }

  /**
   * Verifies a username and password with one answer for every failure, within per-account and per-IP failure
   * limits, and starts a new session whose kind decides what the user may reach. A browser known to the account
   * stays bound to the stored hash, so a password change (a reset) makes it unknown again.
   */
  async signIn(form: LoginDto, client: SignInRequest, current?: ActiveSession): Promise<SignIn> {
    const username = canonicalUsername(form.username);
    const account = username ? await this.prisma.account.findUnique({ where: { username } }) : null;
    const knownDevice = account?.passwordHash ? { token: client.device, binding: account.passwordHash } : undefined;
    const attempt = await this.limiter.signIn(
      'login',
      { name: username, address: client.ip, knownDevice },
      { failuresPerName: this.config.limits.loginFailuresPerAccount, failuresPerAddress: this.config.limits.loginFailuresPerIp, checksInFlightPerName: CHECKS_IN_FLIGHT_PER_ACCOUNT },
      () => this.checkPassword(account, form.password),
    ).catch((err: unknown) => {
      if (!(err instanceof DirectoryUnavailableError)) throw err;
      this.logger.warn(`account ${account?.id} could not sign in: ${err.detail}`);
      return 'unavailable' as const;
    });
    if (attempt === 'unavailable') {
      this.count('unavailable');
      return { ok: false, status: 503, message: DIRECTORY_UNAVAILABLE };
    }
    if (!attempt.allowed) {
      this.count('limited');
      const message = attempt.limit.inFlight
        ? 'Too many sign-in attempts for this account at once. Try again in a moment.'
        : `Too many failed sign-in attempts. Wait ${minutesText(attempt.retryAfterSeconds)} and try again.`;
      return { ok: false, status: 429, message };
    }
    const checked = attempt.value;
    if (!checked) {
      this.count('failed');
      return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    }

    if (current) await this.sessions.revoke(current.idHash);
    const { account: signedIn, mustChange } = checked;
    const kind = signInKind(mustChange ? { ...signedIn, passwordExpired: true } : signedIn, this.config.passwords.expiryDays);
    // A directory password is kept nowhere here, not even the case-folded hash a restricted session holds.
    const sessionId = await this.sessions.create(signedIn.id, kind, signedIn.directoryDn ? undefined : form.password);
    this.logger.log(`account ${signedIn.id} signed in (${kind} session)`);
    this.count(kind === 'full' ? 'normal' : kind);
    return { ok: true, account: signedIn, kind, sessionId, device: attempt.device };
  }

  /**
   * The one password check of a sign-in: a bind as the directory DN, the stored hash, or the dummy for unknown users.
   * A directory that does not answer throws DirectoryUnavailableError, which counts as no attempt.
   */
  private async checkPassword(account: Account | null, password: string): Promise<{ account: Account; mustChange: boolean } | null> {
    if (!account?.directoryDn) {
      const verified = account?.passwordHash ? await this.hasher.verify(account.passwordHash, password) : await this.hasher.verifyAgainstDummy(password);
      return account && verified ? { account, mustChange: false } : null;
    }
    const [bound] = await Promise.all([this.directory.verifyPassword(account.directoryDn, password), this.hasher.waitAsLongAsAVerify()]);
    return bound ? { account, mustChange: bound === 'must-change' } : null;
  }

  private count(outcome: SignInOutcome): void {
    this.metrics.signIns.inc({ outcome });
  }
}
