import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { DirectoryRefusedError } from '../directory/directory-errors.js';
import { DirectoryService } from '../directory/directory.service.js';
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
    private readonly directory: DirectoryService,
  ) {}

  async setPassword(input: SetPasswordInput): Promise<SetPasswordResult> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: input.accountId } });
    const failures = await this.policy.evaluate(input.password, account, {
      forced: account.mustReset || account.passwordExpired,
      currentCaseFolded: input.currentCaseFolded,
    });
    if (failures.length) throw new PasswordRejectedError(failures);
    const passwordHash = await this.hashFor(account, input.password);

    try {
      return await this.prisma.$transaction(async (tx) => {
        await input.guard?.(tx);
        const now = new Date();
        const locked = await tx.$queryRaw<{ must_reset_campaign_id: number | null }[]>`
          SELECT must_reset_campaign_id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
        const campaignId = locked[0]?.must_reset_campaign_id ?? null;
        await this.replacePassword(tx, account, { password: input.password, passwordHash }, 'chosen', now);
        await this.progress.completeAccount(tx, account.id);
        await this.audit.record(tx, {
          actor: input.actor,
          action: input.action,
          campaignId,
          details: {
            accountId: account.id,
            username: account.username,
            ...(account.directoryDn ? { directory: true } : { previousHashAlgorithm: hashAlgorithm(account.passwordHash) }),
            ...input.details,
          },
        });
        return { username: account.username, campaignId };
      }, this.transactionOptions(account));
    } catch (err) {
      if (err instanceof DirectoryRefusedError) throw new PasswordRejectedError([{ rule: 'directory', message: err.reason }]);
      throw err;
    }
  }

  /** The hash to store for a new password, or null for a directory account: only the directory keeps its password. */
  async hashFor(account: { directoryDn: string | null }, password: string): Promise<string | null> {
    return account.directoryDn ? null : this.hasher.hash(password);
  }

  /** A transaction that sets a directory password waits for the directory (see replacePassword), so it may last longer. */
  transactionOptions(account: { directoryDn: string | null }): { timeout: number } | undefined {
    return account.directoryDn ? { timeout: this.directory.transactionTimeoutMs } : undefined;
  }

  /**
   * The writes of every password change, in the caller's transaction: the new hash, a history entry and the history
   * trimmed to its size, and every session and outstanding reset link of the account revoked (a link sent earlier
   * would bypass the new password). A chosen password clears must-reset; a temporary one is stored expired, and the
   * current password is first added to the history if an import left it out, so the user's next choice cannot go
   * back to the password a breach exposed.
   *
   * A directory account gets no hash and no history here: the service account sets the password in the directory
   * first (a temporary one marked "must change at next bind"), and its refusal (DirectoryRefusedError) or outage
   * (DirectoryUnavailableError) rolls the caller's transaction back. Called after the caller's guard and row lock, so of
   * concurrent requests only the one holding them writes the directory; the price is those locks held for one directory
   * round trip. Should the commit fail after the directory accepted, the directory keeps the new password and the user
   * simply tries again (a reset link is still unused).
   */
  async replacePassword(
    tx: Tx,
    account: { id: number; passwordHash: string | null; directoryDn: string | null },
    next: { password: string; passwordHash: string | null },
    kind: NewPasswordKind,
    now = new Date(),
  ): Promise<ReplacePasswordResult> {
    const { passwordHash } = next;
    if (account.directoryDn) await this.directory.setPassword(account.directoryDn, next.password, kind === 'chosen' ? 'reset' : 'temporary');
    else if (!passwordHash) throw new Error(`account ${account.id} signs in here and needs a password hash`);
    if (kind === 'temporary' && account.passwordHash && !(await tx.passwordHistory.findFirst({ where: { accountId: account.id, passwordHash: account.passwordHash } }))) {
      await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash: account.passwordHash } });
    }
    const stored = passwordHash ? { passwordHash } : {};
    await tx.account.update({
      where: { id: account.id },
      data:
        kind === 'chosen'
          ? { ...stored, passwordChangedAt: now, mustReset: false, mustResetCampaignId: null, passwordExpired: false }
          : { ...stored, passwordChangedAt: now, passwordExpired: true },
    });
    if (passwordHash) {
      await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash, createdAt: now } });
      await tx.$executeRaw`
        DELETE FROM password_history WHERE account_id = ${account.id} AND id NOT IN (
          SELECT id FROM password_history WHERE account_id = ${account.id} ORDER BY id DESC LIMIT ${Math.max(this.config.passwords.historySize, 1)})`;
    }
    const sessions = await tx.session.updateMany({ where: { accountId: account.id, revokedAt: null }, data: { revokedAt: now } });
    const resetLinks = await tx.resetToken.updateMany({ where: { accountId: account.id, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
    return { sessionsRevoked: sessions.count, resetLinksRevoked: resetLinks.count };
  }
}
