import { Injectable, Logger } from '@nestjs/common';
import type { PolicyFailure } from '../passwords/password-policy.js';
import { PasswordPolicyService } from '../passwords/password-policy.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { NewPasswordDto } from './dto/new-password.dto.js';
import { NewPasswordService, formStatus } from './new-password.service.js';
import type { Outcome } from './page-responder.service.js';
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
    private readonly newPassword: NewPasswordService,
  ) {}

  async page(session: ActiveSession, failures: PolicyFailure[] = []): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: session.accountId }, select: { username: true, policyPreset: true, passwordExpired: true, locale: true } });
    const rules = this.policy.describe(account.policyPreset);
    const intro = account.passwordExpired
      ? 'You signed in with a temporary password. Choose your own password now.'
      : 'Your password has expired. Choose a new one to continue.';
    return {
      page: 'new-password',
      title: 'Choose a new password',
      locale: account.locale,
      status: formStatus(failures),
      vars: { action: '/password/change', intro, username: account.username, rules, failures, csrf: session.csrfToken },
      json: { intro, username: account.username, rules, failures, csrfToken: session.csrfToken },
    };
  }

  async submit(session: ActiveSession, form: NewPasswordDto): Promise<Outcome> {
    const result = await this.newPassword.submit(session, session.accountId, form, {
      actor: `user:${session.username}`,
      action: 'account.password.change',
      details: { via: 'forced-change' },
    });
    if (result !== 'changed') return this.page(session, result.failures);
    this.logger.log(`account ${session.accountId} completed its forced change`);
    return this.newPassword.changedOutcome(session);
  }
}
