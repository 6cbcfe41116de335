import { Injectable, Logger } from '@nestjs/common';
import { UserMailService } from '../notifications/user-mail/user-mail.service.js';
import { PasswordChangeService, PasswordRejectedError } from '../passwords/password-change.service.js';
import type { PolicyFailure } from '../passwords/password-policy.js';
import { PasswordPolicyService } from '../passwords/password-policy.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { type NewPasswordDto, PASSWORDS_DIFFER } from './dto/new-password.dto.js';
import type { Outcome } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import type { ActiveSession } from './user-page.decorator.js';

/**
 * After signing in with a temporary (or expired) password the user goes straight here and nowhere else:
 * same policy engine, same transaction and confirmation mail as the reset.
 */
@Injectable()
export class ForcedChangeService {
  private readonly logger = new Logger(ForcedChangeService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly policy: PasswordPolicyService,
    private readonly passwords: PasswordChangeService,
    private readonly userMail: UserMailService,
    private readonly sessions: SessionsService,
  ) {}

  async page(session: ActiveSession, failures: PolicyFailure[] = []): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: session.accountId }, select: { username: true, policyPreset: true, passwordExpired: true } });
    const rules = this.policy.describe(account.policyPreset);
    const intro = account.passwordExpired
      ? 'You signed in with a temporary password. Choose your own password now.'
      : 'Your password has expired. Choose a new one to continue.';
    return {
      page: 'new-password',
      title: 'Choose a new password',
      status: failures.length ? 422 : 200,
      vars: { action: '/password/change', intro, username: account.username, rules, failures, csrf: session.csrfToken },
      json: { intro, username: account.username, rules, failures, csrfToken: session.csrfToken },
    };
  }

  async submit(session: ActiveSession, form: NewPasswordDto): Promise<Outcome> {
    const currentCaseFolded = await this.sessions.caseFoldedPassword(session.idHash);
    if (form.newPassword !== form.confirmPassword) {
      const account = await this.prisma.account.findUniqueOrThrow({ where: { id: session.accountId } });
      const failures = await this.policy.evaluate(form.newPassword, account, { forced: true, currentCaseFolded });
      return this.page(session, [PASSWORDS_DIFFER, ...failures]);
    }
    try {
      await this.passwords.setPassword({
        accountId: session.accountId,
        password: form.newPassword,
        currentCaseFolded,
        actor: `user:${session.username}`,
        action: 'account.password.change',
        details: { via: 'forced-change' },
      });
    } catch (err) {
      if (err instanceof PasswordRejectedError) return this.page(session, err.failures);
      throw err;
    }
    this.logger.log(`account ${session.accountId} completed its forced change`);
    await this.sessions.forgetCaseFoldedPasswords(session.accountId);
    await this.userMail.confirmPasswordChanged(session.accountId);
    return { redirect: '/login?notice=password-changed', session: null, json: { changed: true } };
  }
}
