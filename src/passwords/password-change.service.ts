import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { prismaRunner, revokeAccountAccess } from './access-revocation.js';
import { PasswordHasherService } from './password-hasher.service.js';
import type { PolicyFailure } from './password-policy.js';
import { PasswordPolicyService } from './password-policy.service.js';
import { hashAlgorithm } from './stored-hash.js';

type Tx = Prisma.TransactionClient;

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

/** Who chose the new password: the user (their own change or reset) or the product (a temporary password). */
export type NewPasswordKind = 'chosen' | 'temporary';

export interface ReplacePasswordResult {
  sessionsRevoked: number;
  resetLinksRevoked: number;
}

/**
 * The shared "set a new password" transaction of every user flow: policy check first (all failures at once),
 * then in one transaction the argon2id hash (imported bcrypt hashes are replaced here), a history entry,
 * must-reset and the expired flag cleared, every session and outstanding reset link of the account revoked,
 * the campaign progress completed and an audit entry. Temporary passwords (secrets) share its writes through
 * replacePassword.
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
    private readonly metrics: MetricsService,
  ) {}

  async setPassword(input: SetPasswordInput): Promise<SetPasswordResult> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: input.accountId } });
    const failures = await this.policy.evaluate(input.password, account, {
      forced: account.mustReset || account.passwordExpired,
      currentCaseFolded: input.currentCaseFolded,
    });
    if (failures.length) throw new PasswordRejectedError(failures);
    const passwordHash = await this.hasher.hash(input.password);

    const { result, completedIn } = await this.prisma.$transaction(async (tx) => {
      await input.guard?.(tx);
      const now = new Date();
      const locked = await tx.$queryRaw<{ must_reset_campaign_id: number | null }[]>`
        SELECT must_reset_campaign_id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
      const campaignId = locked[0]?.must_reset_campaign_id ?? null;
      await this.replacePassword(tx, account, passwordHash, 'chosen', now);
      const completedIn = await this.progress.completeAccount(tx, account.id);
      await this.audit.record(tx, {
        actor: input.actor,
        action: input.action,
        campaignId,
        details: { accountId: account.id, username: account.username, previousHashAlgorithm: hashAlgorithm(account.passwordHash), ...input.details },
      });
      return { result: { username: account.username, campaignId }, completedIn };
    });
    for (const id of completedIn) this.metrics.resetsCompleted.inc({ campaign_id: id });
    return result;
  }

  /**
   * The writes of every password change, in the caller's transaction: the new hash, a history entry and the history
   * trimmed to its size, and every session and outstanding reset link of the account revoked (a link sent earlier
   * would bypass the new password). A chosen password clears must-reset; a temporary one is stored expired, and the
   * current password is first added to the history if an import left it out, so the user's next choice cannot go
   * back to the password a breach exposed.
   */
  async replacePassword(
    tx: Tx,
    account: { id: number; passwordHash: string | null },
    passwordHash: string,
    kind: NewPasswordKind,
    now = new Date(),
  ): Promise<ReplacePasswordResult> {
    if (kind === 'temporary' && account.passwordHash && !(await tx.passwordHistory.findFirst({ where: { accountId: account.id, passwordHash: account.passwordHash } }))) {
      await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash: account.passwordHash } });
    }
    await tx.account.update({
      where: { id: account.id },
      data:
        kind === 'chosen'
          ? { passwordHash, passwordChangedAt: now, mustReset: false, mustResetCampaignId: null, passwordExpired: false }
          : { passwordHash, passwordChangedAt: now, passwordExpired: true },
    });
    await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash, createdAt: now } });
    await tx.$executeRaw`
      DELETE FROM password_history WHERE account_id = ${account.id} AND id NOT IN (
        SELECT id FROM password_history WHERE account_id = ${account.id} ORDER BY id DESC LIMIT ${Math.max(this.config.passwords.historySize, 1)})`;
    const revoked = await revokeAccountAccess(prismaRunner(tx), [account.id]);
    return { sessionsRevoked: revoked.sessions, resetLinksRevoked: revoked.resetLinks };
  }
}
