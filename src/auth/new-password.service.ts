import { Injectable, Logger } from '@nestjs/common';
import { DirectoryUnavailableError } from '../directory/directory-errors.js';
import { UserMailService } from '../notifications/user-mail/user-mail.service.js';
import { PasswordChangeService, PasswordRejectedError, type SetPasswordInput } from '../passwords/password-change.service.js';
import type { PolicyFailure } from '../passwords/password-policy.js';
import { PasswordPolicyService } from '../passwords/password-policy.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { type NewPasswordDto, PASSWORDS_DIFFER } from './dto/new-password.dto.js';
import { HandoffService } from './handoff.service.js';
import type { Outcome } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import type { ActiveSession } from './user-page.decorator.js';

export type NewPasswordChange = Omit<SetPasswordInput, 'accountId' | 'password' | 'currentCaseFolded'>;

export const DIRECTORY_UNAVAILABLE_FAILURE: PolicyFailure = {
  rule: 'directory-unavailable',
  message: 'The directory that keeps your password does not answer right now, so nothing was changed. Try again in a few minutes; your link still works.',
};

/** 503 when the directory could not be reached (nothing is wrong with the password), 422 for broken rules. */
export function formStatus(failures: PolicyFailure[]): number {
  if (!failures.length) return 200;
  return failures.some((f) => f.rule === DIRECTORY_UNAVAILABLE_FAILURE.rule) ? 503 : 422;
}

/**
 * The form step every "choose a new password" page shares (reset link, forced change): check the two entries,
 * set the password through PasswordChangeService, then drop the sign-in's case-folded value and mail the confirmation.
 */
@Injectable()
export class NewPasswordService {
  private readonly logger = new Logger(NewPasswordService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly policy: PasswordPolicyService,
    private readonly passwords: PasswordChangeService,
    private readonly userMail: UserMailService,
    private readonly sessions: SessionsService,
    private readonly handoffs: HandoffService,
  ) {}

  /** Returns every failed rule at once, or 'changed'. PasswordChangeAbortedError from the change's guard propagates. */
  async submit(session: ActiveSession, accountId: number, form: NewPasswordDto, change: NewPasswordChange): Promise<'changed' | { failures: PolicyFailure[] }> {
    const currentCaseFolded = await this.sessions.caseFoldedPassword(session.idHash);
    if (form.newPassword !== form.confirmPassword) {
      const account = await this.prisma.account.findUniqueOrThrow({ where: { id: accountId } });
      const failures = await this.policy.evaluate(form.newPassword, account, { forced: true, currentCaseFolded });
      return { failures: [PASSWORDS_DIFFER, ...failures] };
    }
    try {
      await this.passwords.setPassword({ accountId, password: form.newPassword, currentCaseFolded, ...change });
    } catch (err) {
      if (err instanceof PasswordRejectedError) return { failures: err.failures };
      if (err instanceof DirectoryUnavailableError) {
        this.logger.warn(`account ${accountId} could not change its password: ${err.detail}`);
        return { failures: [DIRECTORY_UNAVAILABLE_FAILURE] };
      }
      throw err;
    }
    await this.sessions.forgetCaseFoldedPasswords(accountId);
    await this.userMail.confirmPasswordChanged(accountId);
    return 'changed';
  }

  /** After a change every session is gone: back to the application the user came from, or to this product's sign-in. */
  async changedOutcome(session: ActiveSession): Promise<Outcome> {
    return (await this.handoffs.afterChange(session)) ?? { redirect: '/login?notice=password-changed', session: null, json: { changed: true } };
  }
}
