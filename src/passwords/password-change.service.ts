import { Inject, Injectable } from '@nestjs/common';
import { ApplicationEventsService } from '../application-events/application-events.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { PasswordHasherService } from './password-hasher.service.js';
import type { PolicyFailure } from './password-policy.js';
import { PasswordPolicyService } from './password-policy.service.js';

type Tx = Prisma.TransactionClient;

function hashAlgorithm(stored: string | null): string | null {
  if (!stored) return null;
  return stored.startsWith('$2') ? 'bcrypt' : (stored.split('$')[1] ?? 'unknown');
}

/** The password breaks policy rules; `failures` lists every one. */
export class PasswordRejectedError extends Error {
  constructor(readonly failures: PolicyFailure[]) {
    super(`the new password breaks ${failures.length} rule(s)`);
  }
}

/** A precondition checked inside the transaction (a reset token, for example) no longer holds; nothing was written. */
export class PasswordChangeAbortedError extends Error {}

export interface SetPasswordInput {
  accountId: number;
  password: string;
  /** Audit actor, `user:<username>` for the user's own change. */
  actor: string;
  /** Audit action, e.g. `account.password.reset`. */
  action: string;
  /** Extra audit details (never secrets). */
  details?: Record<string, unknown>;
  /** See EvaluateOptions.currentCaseFolded. */
  currentCaseFolded?: string;
  /** Runs first inside the transaction; throw PasswordChangeAbortedError to give up with nothing written. */
  guard?: (tx: Tx) => Promise<void>;
}

export interface SetPasswordResult {
  username: string;
  campaignId: number | null;
}

/**
 * The shared "set a new password" transaction of every user flow: policy check first (all failures at once),
 * then in one transaction the argon2id hash (imported bcrypt hashes are replaced here), a history entry,
 * must-reset and the expired flag cleared, every session and outstanding reset link of the account revoked,
 * the campaign progress completed and an audit entry. For an account of a connected application, the
 * `account.password_reset` event with the new password hashed in the application's format (this is the only moment
 * the plaintext exists) is written in the same transaction and queued after it.
 */
@Injectable()
export class PasswordChangeService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    private readonly policy: PasswordPolicyService,
    private readonly progress: CampaignProgressService,
    private readonly audit: AuditService,
    private readonly events: ApplicationEventsService,
  ) {}

  async setPassword(input: SetPasswordInput): Promise<SetPasswordResult> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: input.accountId } });
    const failures = await this.policy.evaluate(input.password, account, {
      forced: account.mustReset || account.passwordExpired,
      currentCaseFolded: input.currentCaseFolded,
    });
    if (failures.length) throw new PasswordRejectedError(failures);
    const passwordHash = await this.hasher.hash(input.password);
    const application = account.applicationId
      ? await this.prisma.application.findUnique({ where: { id: account.applicationId }, select: { hashFormat: true, enabled: true } })
      : null;
    const writeBack = application?.enabled
      ? { hashFormat: application.hashFormat, passwordHash: await this.hasher.hashFor(application.hashFormat, input.password) }
      : null;

    const result = await this.prisma.$transaction(async (tx) => {
      await input.guard?.(tx);
      const now = new Date();
      const locked = await tx.$queryRaw<{ must_reset_campaign_id: number | null }[]>`
        SELECT must_reset_campaign_id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
      const campaignId = locked[0]?.must_reset_campaign_id ?? null;
      await tx.account.update({
        where: { id: account.id },
        // An application's account whose password this product never held signs in there, not here: its new hash
        // goes to the application and to the history (reuse checks), not into a second sign-in path.
        data: { passwordHash: writeBack && !account.passwordHash ? null : passwordHash, passwordChangedAt: now, mustReset: false, mustResetCampaignId: null, passwordExpired: false },
      });
      await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash, createdAt: now } });
      await tx.$executeRaw`
        DELETE FROM password_history WHERE account_id = ${account.id} AND id NOT IN (
          SELECT id FROM password_history WHERE account_id = ${account.id} ORDER BY id DESC LIMIT ${Math.max(this.config.passwords.historySize, 1)})`;
      await tx.session.updateMany({ where: { accountId: account.id, revokedAt: null }, data: { revokedAt: now } });
      await tx.resetToken.updateMany({ where: { accountId: account.id, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
      await this.progress.completeAccount(tx, account.id);
      if (writeBack) await this.events.recordForAccounts(tx, 'account.password_reset', Prisma.sql`SELECT ${account.id}::int`, campaignId, writeBack);
      await this.audit.record(tx, {
        actor: input.actor,
        action: input.action,
        campaignId,
        details: { accountId: account.id, username: account.username, previousHashAlgorithm: hashAlgorithm(account.passwordHash), ...input.details },
      });
      return { username: account.username, campaignId };
    });
    if (writeBack) await this.events.dispatch();
    return result;
  }
}
