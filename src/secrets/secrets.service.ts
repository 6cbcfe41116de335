import { randomInt } from 'node:crypto';
import { BadRequestException, Inject, Injectable, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { hasReachableEmail } from '../accounts/reachable-email.js';
import { canonicalUsername } from '../accounts/identity.js';
import { AuditService } from '../audit/audit.service.js';
import { newOpaqueToken, sha256Hex } from '../common/tokens.js';
import { type AppConfig, parseDuration } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DirectoryRefusedError, DirectoryUnavailableError } from '../directory/directory-errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { MailTransportService, classifySmtpError } from '../mail/mail-transport.service.js';
import { PasswordChangeService } from '../passwords/password-change.service.js';
import { PasswordPolicyService } from '../passwords/password-policy.service.js';
import { neutralise } from '../notifications/link-free.js';
import { UserMailRendererService } from '../notifications/user-mail/user-mail-renderer.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { formatDateTime } from '../templates/locale.js';
import { EXTERNAL_REF_PATTERN } from './dto/issue-temporary-password.dto.js';
import type { SecretStatusDto, TemporaryPasswordIssuedDto } from './dto/temporary-password-issued.dto.js';
import { SecretCipher } from './secret-cipher.js';
import { type TemporaryPasswordFormat, generateTemporaryPassword } from './temporary-password.js';

export const MIN_SECRET_TTL_SECONDS = 60;
export const MAX_SECRET_TTL_SECONDS = 7 * 86_400;
export const MAX_CODE_ATTEMPTS = 5;
export const CODE_MAC_PURPOSE = 'reveal-code';

export interface TemporaryPasswordRequest {
  external?: string;
  email?: boolean;
  ttl?: string;
  code?: boolean;
  format?: TemporaryPasswordFormat;
  reason?: string;
}

type Tx = Prisma.TransactionClient;

/** A directory that refused the temporary password or did not answer: nothing was issued (the transaction rolled back). */
function directoryFailure(err: unknown): never {
  if (err instanceof DirectoryRefusedError) throw new BadRequestException(`nothing was issued: ${err.reason}`);
  if (err instanceof DirectoryUnavailableError) throw new ServiceUnavailableException(`nothing was issued: ${err.message}; try again when it answers`);
  throw err;
}

/** Admin-assisted temporary passwords: generated here, stored encrypted for one view, never shown to the issuer. */
@Injectable()
export class SecretsService {
  private readonly logger = new Logger(SecretsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly audit: AuditService,
    private readonly policy: PasswordPolicyService,
    private readonly passwords: PasswordChangeService,
    private readonly cipher: SecretCipher,
    private readonly renderer: UserMailRendererService,
    private readonly mail: MailTransportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async issueTemporaryPassword(username: string, request: TemporaryPasswordRequest, actor: string): Promise<TemporaryPasswordIssuedDto> {
    this.cipher.assertReady();
    const ttlSeconds = this.ttlSeconds(request.ttl);
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    const code = request.code ? String(randomInt(1_000_000)).padStart(6, '0') : undefined;
    if (request.external !== undefined) return this.issueExternal(username, request, ttlSeconds, expiresAt, code, actor);

    const account = await this.prisma.account.findUnique({ where: { username: canonicalUsername(username) } });
    if (!account) throw new NotFoundException(`no account ${username}`);
    if (request.email && !hasReachableEmail(account)) {
      throw new BadRequestException(`account ${account.username} has no verified email address; deliver the link another way`);
    }
    if (request.format) throw new BadRequestException('format is for --external systems; an account gets what its policy preset takes');
    const value = this.generateForAccount(account);
    const passwordHash = await this.passwords.hashFor(account, value);

    const issued = await this.prisma.$transaction(async (tx) => {
      await this.destroyExpired(tx, actor);
      // Only the newest temporary password can work, so older unviewed links for the account are destroyed.
      const superseded = await tx.$queryRaw<Array<{ id: number }>>`
        UPDATE one_time_secrets SET ciphertext = NULL, iv = NULL, auth_tag = NULL
         WHERE account_id = ${account.id} AND viewed_at IS NULL AND ciphertext IS NOT NULL
        RETURNING id`;
      if (superseded.length) {
        await this.audit.record(tx, {
          actor,
          action: 'secret.destroyed',
          details: { secretIds: superseded.map((r) => r.id), username: account.username, why: 'superseded by a newer temporary password' },
        });
      }
      const { sessionsRevoked, resetLinksRevoked } = await this.passwords.replacePassword(tx, account, { password: value, passwordHash }, 'temporary');
      const link = await this.storeSecret(tx, value, { accountId: account.id, code, expiresAt, actor });
      await this.audit.record(tx, {
        actor,
        action: 'secret.issued',
        details: {
          secretId: link.secretId,
          username: account.username,
          policyPreset: account.policyPreset,
          ttlSeconds,
          codeRequired: Boolean(code),
          email: Boolean(request.email),
          sessionsRevoked,
          resetLinksRevoked,
          supersededLinks: superseded.length,
          reason: request.reason,
          ...(account.directoryDn ? { directory: true } : {}),
        },
      });
      return link;
    }, this.passwords.transactionOptions(account)).catch(directoryFailure);

    const result: TemporaryPasswordIssuedDto = { ...issued, expiresAt, code };
    if (request.email) result.email = await this.emailLink(account, issued.url, issued.secretId, expiresAt, actor);
    return result;
  }

  /**
   * --external: the value is for a system the product does not own. No account is touched and no hash is kept;
   * the administrator who sets it on that system and the user each get a one-time view of their own.
   */
  private async issueExternal(
    username: string,
    request: TemporaryPasswordRequest,
    ttlSeconds: number,
    expiresAt: Date,
    code: string | undefined,
    actor: string,
  ): Promise<TemporaryPasswordIssuedDto> {
    const externalRef = request.external!;
    if (!EXTERNAL_REF_PATTERN.test(externalRef)) throw new BadRequestException('external must look like system:user');
    if (request.email) throw new BadRequestException('--email is for accounts this product owns; give the external link to the user yourself');
    const format = request.format ?? 'password';
    const value = generateTemporaryPassword('racf', format, externalRef.split(':')[1]);
    return this.prisma.$transaction(async (tx) => {
      await this.destroyExpired(tx, actor);
      const user = await this.storeSecret(tx, value, { externalRef, code, expiresAt, actor });
      const apply = await this.storeSecret(tx, value, { externalRef, expiresAt, actor });
      await this.audit.record(tx, {
        actor,
        action: 'secret.issued',
        details: {
          secretId: user.secretId,
          applySecretId: apply.secretId,
          externalRef,
          recipient: username,
          format,
          ttlSeconds,
          codeRequired: Boolean(code),
          reason: request.reason,
        },
      });
      return { ...user, expiresAt, code, apply };
    });
  }

  /**
   * The product's racf preset takes password phrases only (8-character passwords are for the mainframe itself), so
   * racf accounts get a phrase; the policy engine that checks users' own choices must accept the value too.
   */
  private generateForAccount(account: { username: string; email: string | null; policyPreset: 'nist' | 'racf' }): string {
    for (let attempt = 0; attempt < 20; attempt++) {
      const value = generateTemporaryPassword(account.policyPreset, 'phrase', account.username);
      if (!this.policy.checkGenerated(value, account).length) return value;
    }
    throw new Error(`could not generate a temporary password that the ${account.policyPreset} policy accepts`);
  }

  private async storeSecret(
    tx: Tx,
    value: string,
    target: { accountId?: number; externalRef?: string; code?: string; expiresAt: Date; actor: string },
  ): Promise<{ secretId: number; url: string }> {
    const token = newOpaqueToken();
    const tokenHash = sha256Hex(token);
    const sealed = this.cipher.encrypt(value, tokenHash);
    const row = await tx.oneTimeSecret.create({
      data: {
        tokenHash,
        accountId: target.accountId,
        externalRef: target.externalRef,
        ...sealed,
        codeHash: target.code ? this.cipher.mac(CODE_MAC_PURPOSE, `${tokenHash}:${target.code}`) : null,
        createdBy: target.actor,
        expiresAt: target.expiresAt,
      },
      select: { id: true },
    });
    return { secretId: row.id, url: `${this.config.http.publicUrl}/secret/${token}` };
  }

  /** Housekeeping: ciphertext of links that expired unviewed has no further use. */
  private async destroyExpired(tx: Tx, actor: string): Promise<void> {
    const expired = await tx.$queryRaw<Array<{ id: number }>>`
      UPDATE one_time_secrets SET ciphertext = NULL, iv = NULL, auth_tag = NULL
       WHERE expires_at <= now() AND ciphertext IS NOT NULL
      RETURNING id`;
    if (expired.length) {
      await this.audit.record(tx, { actor, action: 'secret.destroyed', details: { secretIds: expired.map((r) => r.id), why: 'expired unviewed' } });
    }
  }

  private ttlSeconds(ttl: string | undefined): number {
    if (ttl === undefined) return this.config.secrets.ttlSeconds;
    let seconds: number;
    try {
      seconds = parseDuration(ttl);
    } catch (err) {
      throw new BadRequestException((err as Error).message);
    }
    if (seconds < MIN_SECRET_TTL_SECONDS || seconds > MAX_SECRET_TTL_SECONDS) {
      throw new BadRequestException('ttl must be between 1m and 7d');
    }
    return seconds;
  }

  /** Sent after commit: the link is valid whether or not the mail goes out, and the responder is told which. */
  private async emailLink(
    account: { username: string; email: string | null; displayName: string | null; locale: string },
    url: string,
    secretId: number,
    expiresAt: Date,
    actor: string,
  ): Promise<{ sent: boolean; error?: string }> {
    try {
      const rendered = this.renderer.render(
        'secret-link',
        account,
        { expiresAt: formatDateTime(expiresAt, account.locale, this.config.audience.timeZone), issuer: neutralise(actor.replace(/^(operator|cli):/, '')) },
        url,
      );
      await this.mail.send({ to: account.email!, ...rendered, messageId: `<secret-${secretId}@reset-orchestrator>` });
      await this.audit.recordNow({ actor, action: 'secret.link-emailed', details: { secretId, username: account.username } });
      return { sent: true };
    } catch (err) {
      const { reply } = classifySmtpError(err);
      this.logger.warn(`secret ${secretId}: the link mail to ${account.username} was refused: ${reply}`);
      await this.audit.recordNow({ actor, action: 'secret.link-email-failed', details: { secretId, username: account.username, error: reply } });
      return { sent: false, error: reply };
    }
  }

  /** Delivery status only: whether and when the link was viewed, never the value. */
  async status(id: number): Promise<SecretStatusDto> {
    const row = await this.prisma.oneTimeSecret.findUnique({ where: { id }, include: { account: { select: { username: true } } } });
    if (!row) throw new NotFoundException(`no secret ${id}`);
    const status = row.viewedAt
      ? 'viewed'
      : row.codeAttempts >= MAX_CODE_ATTEMPTS
        ? 'destroyed'
        : row.expiresAt <= new Date()
          ? 'expired'
          : row.ciphertext
            ? 'pending'
            : 'destroyed';
    return {
      id: row.id,
      username: row.account?.username,
      externalRef: row.externalRef ?? undefined,
      status,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      viewedAt: row.viewedAt ?? undefined,
      revisitedAt: row.revisitedAt ?? undefined,
      codeRequired: row.codeHash !== null,
      codeAttempts: row.codeAttempts,
    };
  }
}
