import { Inject, Injectable, Logger } from '@nestjs/common';
import { canonicalUsername } from '../accounts/identity.js';
import { signInKind } from '../accounts/sign-in-kind.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Account } from '../generated/prisma/client.js';
import type { SessionKind } from '../generated/prisma/enums.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { MetricsService, type SignInOutcome } from '../metrics/metrics.service.js';
import type { LoginDto } from './dto/login.dto.js';
import type { Outcome, SignInRequest } from './page-responder.service.js';
import { RateLimiterService, minutesText } from '../rate-limit/rate-limiter.service.js';
import { SessionsService } from './sessions.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

export const INVALID_CREDENTIALS = 'The username or password is incorrect.';

export type SignIn =
  | { ok: true; account: Account; kind: SessionKind; sessionId: string; device?: string }
  | { ok: false; status: 401 | 429; message: string };

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
    );
    if (!attempt.allowed) {
      this.count('limited');
      const message = attempt.limit.inFlight
        ? 'Too many sign-in attempts for this account at once. Try again in a moment.'
        : `Too many failed sign-in attempts. Wait ${minutesText(attempt.retryAfterSeconds)} and try again.`;
      return { ok: false, status: 429, message };
    }
    const signedIn = attempt.value;
    if (!signedIn) {
      this.count('failed');
      return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    }

    if (current) await this.sessions.revoke(current.idHash);
    const kind = signInKind(signedIn, this.config.passwords.expiryDays);
    const sessionId = await this.sessions.create(signedIn.id, kind, form.password);
    this.logger.log(`account ${signedIn.id} signed in (${kind} session)`);
    this.count(kind === 'full' ? 'normal' : kind);
    return { ok: true, account: signedIn, kind, sessionId, device: attempt.device };
  }

  /** The account if this password opens it, or null. An unknown username costs a dummy verification, so the time tells nothing. */
  private async checkPassword(account: Account | null, password: string): Promise<Account | null> {
    const verified = account?.passwordHash ? await this.hasher.verify(account.passwordHash, password) : await this.hasher.verifyAgainstDummy(password);
    return account && verified ? account : null;
  }

  private count(outcome: SignInOutcome): void {
    this.metrics.signIns.inc({ outcome });
  }
}
