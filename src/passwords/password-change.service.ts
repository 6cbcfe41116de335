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

/**
 * The shared "set a new password" transaction of every user flow: policy check first (all failures at once),
 * then in one transaction the argon2id hash (imported bcrypt hashes are replaced here), a history entry,
 * must-reset and the expired flag cleared, every session and outstanding reset link of the account revoked,
 * the campaign progress completed and an audit entry.
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
    const { directoryDn } = account;
    // A directory account's password lives in the directory only: no hash, no history entry here.
    const passwordHash = directoryDn ? null : await this.hasher.hash(input.password);

    return this.prisma.$transaction(async (tx) => {
      await input.guard?.(tx);
      const now = new Date();
      const locked = await tx.$queryRaw<{ must_reset_campaign_id: number | null }[]>`
        SELECT must_reset_campaign_id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
      const campaignId = locked[0]?.must_reset_campaign_id ?? null;
      if (directoryDn) await this.setInDirectory(directoryDn, input.password);
      await tx.account.update({
        where: { id: account.id },
        data: { ...(passwordHash ? { passwordHash } : {}), passwordChangedAt: now, mustReset: false, mustResetCampaignId: null, passwordExpired: false },
      });
      if (passwordHash) {
        await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash, createdAt: now } });
        await tx.$executeRaw`
          DELETE FROM password_history WHERE account_id = ${account.id} AND id NOT IN (
            SELECT id FROM password_history WHERE account_id = ${account.id} ORDER BY id DESC LIMIT ${Math.max(this.config.passwords.historySize, 1)})`;
      }
      await tx.session.updateMany({ where: { accountId: account.id, revokedAt: null }, data: { revokedAt: now } });
      await tx.resetToken.updateMany({ where: { accountId: account.id, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
      await this.progress.completeAccount(tx, account.id);
      await this.audit.record(tx, {
        actor: input.actor,
        action: input.action,
        campaignId,
        details: {
          accountId: account.id,
          username: account.username,
          ...(directoryDn ? { directory: true } : { previousHashAlgorithm: hashAlgorithm(account.passwordHash) }),
          ...input.details,
        },
      });
      return { username: account.username, campaignId };
    }, directoryDn ? { timeout: this.directory.transactionTimeoutMs } : undefined);
  }

  /**
   * Inside the transaction, after the guard: of concurrent posts only the one holding the reset token and the account
   * row writes the directory, and a refusal or an outage rolls everything back (the token stays usable). The price is
   * row locks held for one directory round trip. Should the commit itself fail after the directory accepted, the
   * directory has the new password and the link still works for another try.
   */
  private async setInDirectory(dn: string, password: string): Promise<void> {
    try {
      await this.directory.setPassword(dn, password, 'reset');
    } catch (err) {
      if (err instanceof DirectoryRefusedError) throw new PasswordRejectedError([{ rule: 'directory', message: err.reason }]);
      throw err;
    }
  }
}
