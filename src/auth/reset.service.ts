import { Injectable, Logger } from '@nestjs/common';
import { isOpaqueToken, safeEqualHex, sha256Hex } from '../common/tokens.js';
import type { ResetToken } from '../generated/prisma/client.js';
import { PasswordChangeAbortedError } from '../passwords/password-change.service.js';
import type { PolicyFailure } from '../passwords/password-policy.js';
import { PasswordPolicyService } from '../passwords/password-policy.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { LoginDto } from './dto/login.dto.js';
import type { NewPasswordDto } from './dto/new-password.dto.js';
import { NewPasswordService, formStatus } from './new-password.service.js';
import { LoginService } from './login.service.js';
import type { Outcome, SignInRequest } from './page-responder.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

const INVALID_LINK: Outcome = {
  page: 'reset-invalid',
  title: 'Link not valid',
  status: 410,
  vars: { message: 'This link has expired or was already used. Sign in again with your current password to ask for a new one.' },
  json: { error: 'link_invalid' },
};

/**
 * The real reset page. GET never uses the token up (mail scanners fetch links); the token only works for a
 * browser holding a pre-reset session of its account, otherwise the user signs in first and continues.
 */
@Injectable()
export class ResetService {
  private readonly logger = new Logger(ResetService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly login: LoginService,
    private readonly policy: PasswordPolicyService,
    private readonly newPassword: NewPasswordService,
  ) {}

  /** The usable token row; malformed, unknown, used, revoked and expired tokens all answer the same: null. */
  async findUsable(token: string): Promise<ResetToken | null> {
    if (!isOpaqueToken(token)) return null;
    const hash = sha256Hex(token);
    const row = await this.prisma.resetToken.findUnique({ where: { tokenHash: hash } });
    if (!row || !safeEqualHex(row.tokenHash, hash)) return null;
    if (row.usedAt || row.revokedAt || row.expiresAt.getTime() <= Date.now()) return null;
    return row;
  }

  async show(token: string, session?: ActiveSession): Promise<Outcome> {
    const row = await this.findUsable(token);
    if (!row) return INVALID_LINK;
    if (session?.kind !== 'pre_reset' || session.accountId !== row.accountId) return this.signInPage(token, row.accountId);
    return this.form(token, session, row.accountId);
  }

  async signIn(token: string, form: LoginDto, client: SignInRequest, current?: ActiveSession): Promise<Outcome> {
    const row = await this.findUsable(token);
    if (!row) return INVALID_LINK;
    const result = await this.login.signIn(form, client, current);
    if (!result.ok) return this.signInPage(token, row.accountId, result.status, result.message);
    const continues = result.kind === 'pre_reset' && result.account.id === row.accountId;
    return { redirect: continues ? `/reset/${token}` : homeOf(result.kind), session: result.sessionId, device: result.device };
  }

  async submit(token: string, form: NewPasswordDto, session: ActiveSession): Promise<Outcome> {
    const row = await this.findUsable(token);
    if (!row) return INVALID_LINK;
    if (session.accountId !== row.accountId) return this.signInPage(token, row.accountId, 403);

    let result: Awaited<ReturnType<NewPasswordService['submit']>>;
    try {
      result = await this.newPassword.submit(session, row.accountId, form, {
        actor: `user:${session.username}`,
        action: 'account.password.reset',
        details: { via: 'reset-link', tokenId: row.id },
        // The one atomic use of the token: of any number of concurrent posts, exactly one finds it unused.
        guard: async (tx) => {
          const used = await tx.$executeRaw`
            UPDATE reset_tokens SET used_at = now()
            WHERE id = ${row.id} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`;
          if (used !== 1) throw new PasswordChangeAbortedError('the reset link was used or revoked meanwhile');
        },
      });
    } catch (err) {
      if (err instanceof PasswordChangeAbortedError) return INVALID_LINK;
      throw err;
    }
    if (result !== 'changed') return this.form(token, session, row.accountId, result.failures);
    this.logger.log(`account ${row.accountId} completed its reset with link ${row.id}`);
    return this.newPassword.changedOutcome(session);
  }

  /**
   * The link works only in the browser holding the account's pre-reset session. A gate account whose password this
   * product does not hold cannot sign in here: it starts again from its application's sign-in, which hands it over.
   */
  private async signInPage(token: string, accountId: number, status = 200, error?: string): Promise<Outcome> {
    const account = await this.prisma.account.findUnique({ where: { id: accountId }, select: { passwordHash: true, application: { select: { name: true } } } });
    if (account?.application && !account.passwordHash) {
      return {
        page: 'reset-gate',
        title: 'Sign in to continue',
        status: status === 200 ? 200 : status,
        vars: { application: account.application.name },
        json: { signInRequired: true, signInAt: account.application.name },
      };
    }
    return {
      page: 'reset-signin',
      title: 'Sign in to continue',
      status,
      loginForm: true,
      vars: { action: `/reset/${token}/sign-in`, error },
      json: { signInRequired: true, error },
    };
  }

  private async form(token: string, session: ActiveSession, accountId: number, failures: PolicyFailure[] = []): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: accountId }, select: { username: true, policyPreset: true, locale: true } });
    return {
      page: 'new-password',
      title: 'Choose a new password',
      locale: account.locale,
      status: formStatus(failures),
      vars: { action: `/reset/${token}`, username: account.username, rules: this.policy.describe(account.policyPreset), failures, csrf: session.csrfToken },
      json: { username: account.username, rules: this.policy.describe(account.policyPreset), failures, csrfToken: session.csrfToken },
    };
  }
}
