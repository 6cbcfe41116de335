import { Inject, Injectable } from '@nestjs/common';
import { ApplicationEventsService } from '../application-events/application-events.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { prismaRunner, revokeAccountAccess } from './access-revocation.js';
import { DirectoryRefusedError } from '../directory/directory-errors.js';
import { DirectoryService } from '../directory/directory.service.js';
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
 * the campaign progress completed and an audit entry. For an account of a connected application, the
 * `account.password_reset` event with the new password hashed in the application's format (this is the only moment
 * the plaintext exists) is written in the same transaction and queued after it. Temporary passwords (secrets) share
 * its writes through replacePassword.
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
    private readonly events: ApplicationEventsService,
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
    const application = account.applicationId
      ? await this.prisma.application.findUnique({ where: { id: account.applicationId }, select: { hashFormat: true, enabled: true } })
      : null;
    const writeBack = application?.enabled
      ? { hashFormat: application.hashFormat, passwordHash: await this.hasher.hashFor(application.hashFormat, input.password) }
      : null;

    try {
      const { result, completedIn } = await this.prisma.$transaction(async (tx) => {
        await input.guard?.(tx);
        const now = new Date();
        const locked = await tx.$queryRaw<{ must_reset_campaign_id: number | null }[]>`
          SELECT must_reset_campaign_id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
        const campaignId = locked[0]?.must_reset_campaign_id ?? null;
        // An application's account whose password this product never held signs in there, not here: its new hash
        // goes to the application and to the history (reuse checks), not into a second sign-in path.
        const signsInElsewhere = Boolean(writeBack && !account.passwordHash);
        await this.replacePassword(tx, account, { password: input.password, passwordHash }, 'chosen', now, { signsInElsewhere });
        const completedIn = await this.progress.completeAccount(tx, account.id);
        if (writeBack) await this.events.recordForAccounts(tx, 'account.password_reset', Prisma.sql`SELECT ${account.id}::int`, campaignId, writeBack);
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
        return { result: { username: account.username, campaignId }, completedIn };
      }, this.transactionOptions(account));
      for (const id of completedIn) this.metrics.resetsCompleted.inc({ campaign_id: id });
      if (writeBack) await this.events.dispatch();
      return result;
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
   * simply tries again (a reset link is still unused). `signsInElsewhere`: the account signs in to a connected
   * application, which gets the new password; only the history keeps its hash here.
   */
  async replacePassword(
    tx: Tx,
    account: { id: number; passwordHash: string | null; directoryDn: string | null },
    next: { password: string; passwordHash: string | null },
    kind: NewPasswordKind,
    now = new Date(),
    { signsInElsewhere = false } = {},
  ): Promise<ReplacePasswordResult> {
    const { passwordHash } = next;
    if (account.directoryDn) await this.directory.setPassword(account.directoryDn, next.password, kind === 'chosen' ? 'reset' : 'temporary');
    else if (!passwordHash) throw new Error(`account ${account.id} signs in here and needs a password hash`);
    if (kind === 'temporary' && account.passwordHash && !(await tx.passwordHistory.findFirst({ where: { accountId: account.id, passwordHash: account.passwordHash } }))) {
      await tx.passwordHistory.create({ data: { accountId: account.id, passwordHash: account.passwordHash } });
    }
    const stored = passwordHash && !signsInElsewhere ? { passwordHash } : {};
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
    const revoked = await revokeAccountAccess(prismaRunner(tx), [account.id]);
    return { sessionsRevoked: revoked.sessions, resetLinksRevoked: revoked.resetLinks };
  }
}
