import { randomBytes } from 'node:crypto';
import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { canonicalUsername } from '../../accounts/identity.js';
import { AuditService } from '../../audit/audit.service.js';
import { isLoopbackHost, normaliseOrigin } from '../../common/return-to.js';
import { newOpaqueToken, sha256Hex } from '../../common/tokens.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { Application } from '../../generated/prisma/client.js';
import type { ApplicationHashFormat } from '../../generated/prisma/enums.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { SecretCipher } from '../../secrets/secret-cipher.js';

export const APPLICATION_KEY_PREFIX = 'roa_';
const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX = 1_000;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface NewApplication {
  name: string;
  returnOrigins: string[];
  webhookUrl: string;
  hashFormat?: ApplicationHashFormat;
}

/** The principal behind an application key: it may call the gate and nothing else. */
export interface AuthenticatedApplication {
  id: number;
  name: string;
  returnOrigins: string[];
}

/** A webhook URL the sender will post to: https, or http on loopback for development. */
export function checkWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadRequestException(`webhook URL "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new BadRequestException(`webhook URL "${value}" must be https (http only for loopback)`);
  }
  if (url.username || url.password) throw new BadRequestException('webhook URL must not carry credentials');
  return url.href;
}

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Connected applications: registration, the application key (only its SHA-256 stored, shown once) and the webhook
 * signing secret (encrypted under SECRET_ENCRYPTION_KEY, since it must be used to sign; shown once).
 */
@Injectable()
export class ApplicationsService {
  private readonly keyCache = new Map<string, { app: AuthenticatedApplication | null; until: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly cipher: SecretCipher,
    private readonly audit: AuditService,
  ) {}

  async create(input: NewApplication, actor: string): Promise<{ id: number; name: string; key: string; secret: string }> {
    const name = input.name.trim().toLowerCase();
    if (!NAME.test(name)) throw new BadRequestException('name must be lower-case letters, digits and -, at most 63 characters');
    let returnOrigins: string[];
    try {
      returnOrigins = [...new Set(input.returnOrigins.map(normaliseOrigin))];
    } catch (err) {
      throw new BadRequestException(`return origin ${(err as Error).message}`);
    }
    if (!returnOrigins.length) throw new BadRequestException('at least one return origin is required');
    const webhookUrl = checkWebhookUrl(input.webhookUrl);
    this.cipher.assertReady();
    const key = newOpaqueToken(APPLICATION_KEY_PREFIX);
    const secret = newSigningSecret();
    return this.prisma.$transaction(async (tx) => {
      if (await tx.application.findUnique({ where: { name } })) throw new ConflictException(`application ${name} already exists`);
      const app = await tx.application.create({
        data: { name, returnOrigins, webhookUrl, hashFormat: input.hashFormat ?? 'argon2id', keyHash: sha256Hex(key), secretCiphertext: this.seal(name, secret) },
      });
      await this.audit.record(tx, { actor, action: 'application.create', details: { name, returnOrigins, webhookUrl, hashFormat: app.hashFormat } });
      return { id: app.id, name, key, secret };
    });
  }

  list() {
    return this.prisma.application.findMany({ select: PUBLIC_FIELDS, orderBy: { name: 'asc' } });
  }

  async show(name: string) {
    const app = await this.prisma.application.findUnique({ where: { name: name.toLowerCase() }, select: PUBLIC_FIELDS });
    if (!app) throw new NotFoundException(`no application ${name}`);
    const accounts = await this.prisma.account.count({ where: { applicationId: app.id } });
    return { ...app, accounts };
  }

  async disable(name: string, actor: string): Promise<void> {
    await this.change(name, actor, 'application.disable', () => ({ enabled: false }));
  }

  /** A new key; the old one stops working at once (within KEY_CACHE_TTL_MS on other API instances). */
  async rotateKey(name: string, actor: string): Promise<string> {
    const key = newOpaqueToken(APPLICATION_KEY_PREFIX);
    await this.change(name, actor, 'application.key.rotate', () => ({ keyHash: sha256Hex(key) }));
    return key;
  }

  /** A new signing secret; the previous one keeps signing alongside it for WEBHOOK_SECRET_GRACE. */
  async rotateSecret(name: string, actor: string): Promise<{ secret: string; previousValidUntil: Date }> {
    this.cipher.assertReady();
    const secret = newSigningSecret();
    const previousValidUntil = new Date(Date.now() + this.config.webhooks.secretGraceSeconds * 1000);
    await this.change(name, actor, 'application.secret.rotate', (app) => ({
      secretCiphertext: this.seal(app.name, secret),
      previousSecretCiphertext: app.secretCiphertext,
      previousSecretUntil: previousValidUntil,
    }));
    return { secret, previousValidUntil };
  }

  /** Every secret a delivery is signed with now: the current one, and the previous one during its grace period. */
  signingSecrets(app: Pick<Application, 'name' | 'secretCiphertext' | 'previousSecretCiphertext' | 'previousSecretUntil'>): string[] {
    const secrets = [this.unseal(app.name, app.secretCiphertext)];
    if (app.previousSecretCiphertext && app.previousSecretUntil && app.previousSecretUntil.getTime() > Date.now()) {
      secrets.push(this.unseal(app.name, app.previousSecretCiphertext));
    }
    return secrets;
  }

  /**
   * Attaches accounts to the application (they then sign in through its gate); `externalId` names the user as the
   * application does. `all` takes every account not attached to any application yet. Returns how many changed.
   */
  async attach(name: string, accounts: 'all' | { username: string; externalId?: string }[], actor: string): Promise<{ attached: number; unknown: string[] }> {
    const app = await this.prisma.application.findUnique({ where: { name: name.toLowerCase() } });
    if (!app) throw new NotFoundException(`no application ${name}`);
    return this.prisma.$transaction(
      async (tx) => {
        let attached: number;
        let unknown: string[] = [];
        if (accounts === 'all') {
          attached = await tx.$executeRaw`UPDATE accounts SET application_id = ${app.id}, updated_at = now() WHERE application_id IS NULL`;
        } else {
          const usernames = accounts.map((a) => canonicalUsername(a.username));
          const externalIds = accounts.map((a) => a.externalId?.trim() || null);
          const rows = await tx.$queryRaw<{ username: string }[]>`
            UPDATE accounts a SET application_id = ${app.id}, external_id = coalesce(v.external_id, a.external_id), updated_at = now()
            FROM unnest(${usernames}::text[], ${externalIds}::text[]) AS v(username, external_id)
            WHERE a.username = v.username
            RETURNING a.username`;
          attached = rows.length;
          const found = new Set(rows.map((r) => r.username));
          unknown = usernames.filter((u) => !found.has(u));
        }
        await this.audit.record(tx, { actor, action: 'application.attach', details: { name: app.name, attached, unknown: unknown.length } });
        return { attached, unknown };
      },
      { timeout: 120_000 },
    );
  }

  /** The application behind a key, or null for anything else (an operator token included). */
  async authenticateKey(key: string): Promise<AuthenticatedApplication | null> {
    if (!key.startsWith(APPLICATION_KEY_PREFIX) || key.length > 100) return null;
    const keyHash = sha256Hex(key);
    const cached = this.keyCache.get(keyHash);
    if (cached && cached.until > Date.now()) return cached.app;
    const row = await this.prisma.application.findUnique({ where: { keyHash }, select: { id: true, name: true, returnOrigins: true, enabled: true } });
    const app = row?.enabled ? Object.freeze({ id: row.id, name: row.name, returnOrigins: row.returnOrigins }) : null;
    this.keyCache.delete(keyHash);
    this.keyCache.set(keyHash, { app, until: Date.now() + KEY_CACHE_TTL_MS });
    if (this.keyCache.size > KEY_CACHE_MAX) this.keyCache.delete(this.keyCache.keys().next().value as string);
    return app;
  }

  private async change(name: string, actor: string, action: string, data: (app: Application) => Partial<Application>): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const [app] = await tx.$queryRaw<{ id: number }[]>`SELECT id FROM applications WHERE name = ${name.toLowerCase()} FOR UPDATE`;
      if (!app) throw new NotFoundException(`no application ${name}`);
      const current = await tx.application.findUniqueOrThrow({ where: { id: app.id } });
      await tx.application.update({ where: { id: app.id }, data: data(current) });
      await this.audit.record(tx, { actor, action, details: { name: current.name } });
    });
    this.keyCache.clear();
  }

  private seal(name: string, secret: string): string {
    const sealed = this.cipher.encrypt(secret, secretAad(name));
    return ['v1', sealed.iv, sealed.authTag, sealed.ciphertext].map((p) => (typeof p === 'string' ? p : Buffer.from(p).toString('base64'))).join('.');
  }

  private unseal(name: string, stored: string): string {
    const [version, iv, authTag, ciphertext] = stored.split('.');
    if (version !== 'v1') throw new Error(`application ${name}: unknown secret format`);
    const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
    return this.cipher.decrypt({ iv: bytes(iv), authTag: bytes(authTag), ciphertext: bytes(ciphertext) }, secretAad(name));
  }
}

/** Binds a sealed secret to its application: copied to another row, it no longer decrypts. */
function secretAad(name: string): string {
  return `application-webhook-secret:${name}`;
}

const PUBLIC_FIELDS = {
  id: true,
  name: true,
  returnOrigins: true,
  webhookUrl: true,
  hashFormat: true,
  enabled: true,
  previousSecretUntil: true,
  createdAt: true,
} as const;
