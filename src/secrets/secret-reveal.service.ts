import { Inject, Injectable, InternalServerErrorException, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { type Limit, RateLimiterService } from '../rate-limit/rate-limiter.service.js';
import { isOpaqueToken, sha256Hex } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { SecretCipher } from './secret-cipher.js';
import { CODE_MAC_PURPOSE, MAX_CODE_ATTEMPTS } from './secrets.service.js';

const FORM_MAC_PURPOSE = 'reveal-form';
/** Visits to an already-viewed link from one address per rate-limit window; later ones get 429 before the database is touched. */
export const MAX_REVISITS_PER_ADDRESS = 20;

/** Who opened the link, for the audit trail: the issuer needs it when a visit was not the user's. */
export interface Visitor {
  ip?: string;
  userAgent?: string;
}

export type SecretView =
  | { kind: 'unknown' }
  | { kind: 'forbidden' }
  | { kind: 'ready'; subject: string; csrf: string; codeRequired: boolean; expiresAt: Date }
  | { kind: 'wrong-code'; subject: string; csrf: string; attemptsLeft: number; expiresAt: Date }
  | { kind: 'revealed'; subject: string; value: string }
  | { kind: 'viewed'; viewedAt: Date }
  | { kind: 'revisits-throttled'; retryAfterSeconds: number }
  | { kind: 'destroyed' };

interface LockedSecret {
  id: number;
  external_ref: string | null;
  username: string | null;
  ciphertext: Uint8Array | null;
  iv: Uint8Array | null;
  auth_tag: Uint8Array | null;
  code_hash: string | null;
  code_attempts: number;
  created_by: string;
  viewed_at: Date | null;
  revisited_at: Date | null;
  expires_at: Date;
  live: boolean;
}

type Tx = Prisma.TransactionClient;

/** The public side of a one-time secret: the interstitial, the single reveal, and the alarm on any later visit. */
@Injectable()
export class SecretRevealService {
  private readonly logger = new Logger(SecretRevealService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly audit: AuditService,
    private readonly cipher: SecretCipher,
    private readonly limiter: RateLimiterService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** GET: never reveals and never uses the link up, so link scanners and previews are harmless. */
  async view(token: string, visitor: Visitor): Promise<SecretView> {
    if (!isOpaqueToken(token)) return { kind: 'unknown' };
    const tokenHash = sha256Hex(token);
    const throttled = await this.revisitsUsedUp(tokenHash, visitor);
    if (throttled) return throttled;
    return this.prisma.$transaction(async (tx) => {
      const row = await this.lock(tx, tokenHash);
      if (!row) return { kind: 'unknown' };
      if (row.viewed_at) return this.revisit(tx, row, tokenHash, visitor);
      if (!row.live) return { kind: 'unknown' };
      if (!row.ciphertext) return { kind: 'destroyed' };
      return { kind: 'ready', subject: subjectOf(row), csrf: this.formToken(tokenHash), codeRequired: row.code_hash !== null, expiresAt: row.expires_at };
    });
  }

  /**
   * POST: checks the form token and the code, then decrypts and destroys the ciphertext with one conditional
   * UPDATE in the same transaction, so of any number of concurrent reveals exactly one gets the value.
   */
  async reveal(token: string, form: { csrf?: string; code?: string }, visitor: Visitor): Promise<SecretView> {
    const tokenHash = sha256Hex(token);
    // The form check comes before the shape check, so a malformed token is answered exactly like an expired one.
    if (!this.cipher.macMatches(FORM_MAC_PURPOSE, tokenHash, form.csrf)) return { kind: 'forbidden' };
    if (!isOpaqueToken(token)) return { kind: 'unknown' };
    const throttled = await this.revisitsUsedUp(tokenHash, visitor);
    if (throttled) return throttled;
    return this.prisma.$transaction(async (tx) => {
      const row = await this.lock(tx, tokenHash);
      if (!row) return { kind: 'unknown' };
      if (row.viewed_at) return this.revisit(tx, row, tokenHash, visitor);
      if (!row.live) return { kind: 'unknown' };
      if (!row.ciphertext || !row.iv || !row.auth_tag) return { kind: 'destroyed' };
      if (row.code_hash) {
        const code = (form.code ?? '').replace(/\s+/g, '');
        if (!this.cipher.macMatches(CODE_MAC_PURPOSE, `${tokenHash}:${code}`, row.code_hash)) return this.wrongCode(tx, row, tokenHash, visitor);
      }

      let value: string;
      try {
        value = this.cipher.decrypt(
          { ciphertext: new Uint8Array(row.ciphertext), iv: new Uint8Array(row.iv), authTag: new Uint8Array(row.auth_tag) },
          tokenHash,
        );
      } catch {
        // Nothing is destroyed: with the right key restored the link works again.
        this.logger.error(`one-time secret ${row.id} does not decrypt: SECRET_ENCRYPTION_KEY changed or the row was altered`);
        throw new InternalServerErrorException('This password cannot be shown right now. Contact the security team.');
      }
      const taken = await tx.$queryRaw<Array<{ id: number }>>(Prisma.sql`
        UPDATE one_time_secrets
           SET ciphertext = NULL, iv = NULL, auth_tag = NULL, viewed_at = now()
         WHERE id = ${row.id} AND viewed_at IS NULL AND expires_at > now() AND ciphertext IS NOT NULL
        RETURNING id`);
      if (!taken.length) return { kind: 'unknown' };
      await this.audit.record(tx, {
        actor: 'system',
        action: 'secret.revealed',
        details: { secretId: row.id, createdBy: row.created_by, ...targetOf(row), ...visitor },
      });
      return { kind: 'revealed', subject: subjectOf(row), value };
    });
  }

  /** The row, locked so a code check, its attempt count and the reveal are decided one at a time. */
  private async lock(tx: Tx, tokenHash: string): Promise<LockedSecret | undefined> {
    const rows = await tx.$queryRaw<LockedSecret[]>(Prisma.sql`
      SELECT s.id, s.external_ref, a.username, s.ciphertext, s.iv, s.auth_tag, s.code_hash, s.code_attempts,
             s.created_by, s.viewed_at, s.revisited_at, s.expires_at, s.expires_at > now() AS live
        FROM one_time_secrets s LEFT JOIN accounts a ON a.id = s.account_id
       WHERE s.token_hash = ${tokenHash}
         FOR UPDATE OF s`);
    return rows[0];
  }

  /**
   * A visit after the value was shown: the visitor is told when, and the issuer is alerted through the audit log.
   * A scripted client must not be able to flood that log (nor push other alerts off the dashboard), so each address
   * gets MAX_REVISITS_PER_ADDRESS answers per window and one `secret.revisited` entry per window: every address that
   * reopens the link is recorded, however many times it does.
   */
  private async revisit(tx: Tx, row: LockedSecret, tokenHash: string, visitor: Visitor): Promise<SecretView> {
    const allowed = await this.limiter.consume([this.revisitLimit(tokenHash, visitor)]);
    if (!allowed.allowed) return { kind: 'revisits-throttled', retryAfterSeconds: allowed.retryAfterSeconds };
    const firstFromAddress = await this.limiter.consume([this.addressLimit('secret-revisit-recorded', tokenHash, visitor, 1)]);
    if (!firstFromAddress.allowed) return { kind: 'viewed', viewedAt: row.viewed_at! };
    await tx.oneTimeSecret.update({ where: { id: row.id }, data: { revisitedAt: new Date() } });
    await this.audit.record(tx, {
      actor: 'system',
      action: 'secret.revisited',
      details: { secretId: row.id, createdBy: row.created_by, alert: row.created_by, viewedAt: row.viewed_at, ...targetOf(row), ...visitor },
    });
    this.logger.warn(`one-time secret ${row.id} was opened again after it had been viewed; alerting ${row.created_by}`);
    return { kind: 'viewed', viewedAt: row.viewed_at! };
  }

  /** Refuses, without touching the database, an address that used up its visits to this (viewed) link. */
  private async revisitsUsedUp(tokenHash: string, visitor: Visitor): Promise<SecretView | undefined> {
    const result = await this.limiter.check([this.revisitLimit(tokenHash, visitor)]);
    return result.allowed ? undefined : { kind: 'revisits-throttled', retryAfterSeconds: result.retryAfterSeconds };
  }

  /** Only revisits count against it, so a link that was never viewed is never refused. */
  private revisitLimit(tokenHash: string, visitor: Visitor): Limit {
    return this.addressLimit('secret-revisit', tokenHash, visitor, MAX_REVISITS_PER_ADDRESS);
  }

  private addressLimit(name: string, tokenHash: string, visitor: Visitor, max: number): Limit {
    return { key: this.limiter.key(name, `${tokenHash}\0${visitor.ip ?? 'unknown'}`), max };
  }

  private async wrongCode(tx: Tx, row: LockedSecret, tokenHash: string, visitor: Visitor): Promise<SecretView> {
    const attempts = row.code_attempts + 1;
    const destroy = attempts >= MAX_CODE_ATTEMPTS;
    await tx.oneTimeSecret.update({
      where: { id: row.id },
      data: destroy ? { codeAttempts: attempts, ciphertext: null, iv: null, authTag: null } : { codeAttempts: attempts },
    });
    const details = { secretId: row.id, createdBy: row.created_by, attempts, ...targetOf(row), ...visitor };
    await this.audit.record(tx, { actor: 'system', action: 'secret.code-failed', details });
    if (destroy) {
      await this.audit.record(tx, { actor: 'system', action: 'secret.destroyed', details: { ...details, alert: row.created_by, why: 'too many wrong codes' } });
      return { kind: 'destroyed' };
    }
    const attemptsLeft = MAX_CODE_ATTEMPTS - attempts;
    return { kind: 'wrong-code', subject: subjectOf(row), csrf: this.formToken(tokenHash), attemptsLeft, expiresAt: row.expires_at };
  }

  /** The reveal form's CSRF value: there is no session, so it is a MAC of the secret it belongs to. */
  private formToken(tokenHash: string): string {
    return this.cipher.mac(FORM_MAC_PURPOSE, tokenHash);
  }
}

function targetOf(row: LockedSecret): { username?: string; externalRef?: string } {
  return row.username ? { username: row.username } : { externalRef: row.external_ref ?? undefined };
}

function subjectOf(row: LockedSecret): string {
  return row.username ? `account ${row.username}` : `${row.external_ref}`;
}
