import { Inject, Injectable, Logger } from '@nestjs/common';
import { signInKind } from '../accounts/sign-in-kind.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Account } from '../generated/prisma/client.js';
import type { SessionKind } from '../generated/prisma/enums.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { LoginDto } from './dto/login.dto.js';
import type { Outcome } from './page-responder.service.js';
import { RateLimiterService, type Limit, minutesText } from '../rate-limit/rate-limiter.service.js';
import { SessionsService } from './sessions.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

export const INVALID_CREDENTIALS = 'The username or password is incorrect.';

export type SignIn =
  | { ok: true; account: Account; kind: SessionKind; sessionId: string }
  | { ok: false; status: 401 | 429; message: string };

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
    const verified = account?.passwordHash
      ? await this.hasher.verify(account.passwordHash, form.password)
      : await this.hasher.verifyAgainstDummy(form.password);
    if (!account || !verified) {
      await this.limiter.hit(limits);
      return { ok: false, status: 401, message: INVALID_CREDENTIALS };
    }

    await this.limiter.clear(limits[1].key);
    if (current) await this.sessions.revoke(current.idHash);
    const kind = signInKind(account, this.config.passwords.expiryDays);
    const sessionId = await this.sessions.create(account.id, kind, form.password);
    this.logger.log(`account ${account.id} signed in (${kind} session)`);
    return { ok: true, account, kind, sessionId };
  }
}
