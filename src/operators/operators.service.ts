import { randomBytes } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { newOpaqueToken, sha256Hex } from '../common/tokens.js';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { AuthenticatedOperator } from './roles.decorator.js';

export const API_TOKEN_PREFIX = 'rot_';
/** lastUsedAt is kept to the minute, so busy API clients do not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * A resolved bearer token is reused for this long, so a polling client does not cost a query per request. A revoke or
 * disable in this process takes effect at once; other processes (the CLI, other API instances) see it within this time.
 */
export const TOKEN_CACHE_TTL_MS = 5_000;
const TOKEN_CACHE_MAX = 1_000;

interface CachedToken {
  operator: AuthenticatedOperator;
  until: number;
}

@Injectable()
export class OperatorsService {
  /** Valid tokens only, by token hash; unknown or revoked tokens are looked up every time. */
  private readonly tokenCache = new Map<string, CachedToken>();
  /** One lookup at a time per token hash, so a burst of requests after expiry costs one query. */
  private readonly tokenLookups = new Map<string, Promise<AuthenticatedOperator | null>>();
  /** Bumped by every revocation: a lookup that started before it does not fill the cache. */
  private tokenGeneration = 0;

  constructor(
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    private readonly audit: AuditService,
  ) {}

  /** Creates an operator with a generated password and a first API token; both are shown once. */
  async create(username: string, role: OperatorRole, actor: string): Promise<{ id: number; password: string; token: string }> {
    const name = username.trim().toLowerCase();
    const password = randomBytes(18).toString('base64url');
    const token = newOpaqueToken(API_TOKEN_PREFIX);
    const passwordHash = await this.hasher.hash(password);
    return this.prisma.$transaction(async (tx) => {
      if (await tx.operator.findUnique({ where: { username: name } })) throw new ConflictException(`operator ${name} already exists`);
      const operator = await tx.operator.create({ data: { username: name, role, passwordHash } });
      await tx.apiToken.create({ data: { operatorId: operator.id, tokenHash: sha256Hex(token), name: 'initial' } });
      await this.audit.record(tx, { actor, action: 'operator.create', details: { username: name, role } });
      return { id: operator.id, password, token };
    });
  }

  async createToken(username: string, name: string, actor: string): Promise<{ id: number; token: string }> {
    const token = newOpaqueToken(API_TOKEN_PREFIX);
    return this.prisma.$transaction(async (tx) => {
      const operator = await tx.operator.findUnique({ where: { username: username.toLowerCase() } });
      if (!operator || operator.disabledAt) throw new NotFoundException(`no active operator ${username}`);
      const row = await tx.apiToken.create({ data: { operatorId: operator.id, tokenHash: sha256Hex(token), name } });
      await this.audit.record(tx, { actor, action: 'operator.token.create', details: { username: operator.username, tokenId: row.id, name } });
      return { id: row.id, token };
    });
  }

  list() {
    return this.prisma.operator.findMany({
      select: { id: true, username: true, role: true, createdAt: true, disabledAt: true },
      orderBy: { username: 'asc' },
    });
  }

  /** Disables an operator and ends every token and session it holds. */
  async disable(username: string, actor: string): Promise<void> {
    const name = username.trim().toLowerCase();
    await this.prisma.$transaction(async (tx) => {
      const now = new Date();
      const { count } = await tx.operator.updateMany({ where: { username: name, disabledAt: null }, data: { disabledAt: now } });
      if (!count) throw new NotFoundException(`no active operator ${name}`);
      const operator = await tx.operator.findUniqueOrThrow({ where: { username: name }, select: { id: true } });
      await tx.apiToken.updateMany({ where: { operatorId: operator.id, revokedAt: null }, data: { revokedAt: now } });
      await tx.operatorSession.updateMany({ where: { operatorId: operator.id, revokedAt: null }, data: { revokedAt: now } });
      await this.audit.record(tx, { actor, action: 'operator.disable', details: { username: name } });
    });
    this.forgetTokens();
  }

  /** Token metadata (never the token: only its hash is stored), optionally for one operator. */
  listTokens(username?: string) {
    return this.prisma.apiToken.findMany({
      where: username ? { operator: { username: username.toLowerCase() } } : undefined,
      select: { id: true, name: true, createdAt: true, lastUsedAt: true, revokedAt: true, operator: { select: { username: true, role: true } } },
      orderBy: { id: 'asc' },
    });
  }

  async revokeToken(id: number, actor: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
      if (!count) throw new NotFoundException(`no active token ${id}`);
      await this.audit.record(tx, { actor, action: 'operator.token.revoke', details: { tokenId: id } });
    });
    this.forgetTokens();
  }

  /**
   * Resolves a bearer token to its operator, or null when it is unknown, revoked or disabled
   * (from the last TOKEN_CACHE_TTL_MS when it was valid then).
   */
  authenticateToken(token: string): Promise<AuthenticatedOperator | null> {
    if (!token.startsWith(API_TOKEN_PREFIX) || token.length > 100) return Promise.resolve(null);
    const tokenHash = sha256Hex(token);
    const cached = this.tokenCache.get(tokenHash);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.operator);
    let lookup = this.tokenLookups.get(tokenHash);
    if (!lookup) {
      const started = this.lookupToken(tokenHash).finally(() => {
        if (this.tokenLookups.get(tokenHash) === started) this.tokenLookups.delete(tokenHash);
      });
      this.tokenLookups.set(tokenHash, started);
      lookup = started;
    }
    return lookup;
  }

  private async lookupToken(tokenHash: string): Promise<AuthenticatedOperator | null> {
    const generation = this.tokenGeneration;
    const row = await this.prisma.apiToken.findUnique({ where: { tokenHash }, include: { operator: true } });
    if (!row || row.revokedAt || row.operator.disabledAt) return null;
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
    }
    const operator: AuthenticatedOperator = Object.freeze({ id: row.operator.id, username: row.operator.username, role: row.operator.role });
    if (generation === this.tokenGeneration) {
      this.tokenCache.delete(tokenHash);
      this.tokenCache.set(tokenHash, { operator, until: Date.now() + TOKEN_CACHE_TTL_MS });
      if (this.tokenCache.size > TOKEN_CACHE_MAX) this.tokenCache.delete(this.tokenCache.keys().next().value as string);
    }
    return operator;
  }

  /** After a revocation commits: nothing resolved before it is served again, and no lookup already running is joined. */
  private forgetTokens(): void {
    this.tokenGeneration++;
    this.tokenCache.clear();
    this.tokenLookups.clear();
  }
}
