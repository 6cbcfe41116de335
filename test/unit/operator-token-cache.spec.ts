import { afterEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/common/tokens.js';
import type { AuditService } from '../../src/audit/audit.service.js';
import type { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import type { PrismaService } from '../../src/prisma/prisma.service.js';
import { OperatorsService, TOKEN_CACHE_TTL_MS } from '../../src/operators/operators.service.js';

const TOKEN = 'rot_valid-token-for-the-cache-test';

/** A database of one API token, counting lookups; revocations go through the service's own revokeToken. */
function fakeDatabase() {
  const row = { id: 1, tokenHash: sha256Hex(TOKEN), revokedAt: null as Date | null, lastUsedAt: new Date(), operator: { id: 7, username: 'dana', role: 'manager', disabledAt: null } };
  let release: (() => void) | null = null;
  const db = {
    lookups: 0,
    row,
    /** The next lookup waits until `resume` is called. */
    holdNextLookup: () => new Promise<void>((resolve) => (release = resolve)),
    resume: () => release?.(),
  };
  let hold: Promise<void> | null = null;
  const prisma = {
    apiToken: {
      findUnique: async ({ where }: { where: { tokenHash: string } }) => {
        db.lookups += 1;
        const snapshot = where.tokenHash === row.tokenHash ? { ...row, operator: { ...row.operator } } : null;
        if (hold) await hold;
        return snapshot;
      },
      update: async () => row,
      updateMany: async () => {
        row.revokedAt = new Date();
        return { count: 1 };
      },
    },
    $transaction: async (fn: (tx: unknown) => Promise<unknown>) => fn(prisma),
  };
  const audit = { record: async () => undefined };
  const service = new OperatorsService(prisma as unknown as PrismaService, {} as PasswordHasherService, audit as unknown as AuditService);
  return {
    db,
    service,
    hold: () => {
      hold = db.holdNextLookup();
    },
    unhold: () => {
      hold = null;
      db.resume();
    },
  };
}

describe('bearer token authentication cache', () => {
  afterEach(() => vi.useRealTimers());

  it('looks a token up once for concurrent requests and again after the TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { db, service } = fakeDatabase();
    const operators = await Promise.all(Array.from({ length: 20 }, () => service.authenticateToken(TOKEN)));
    expect(operators.every((o) => o?.username === 'dana' && o.role === 'manager')).toBe(true);
    expect(db.lookups).toBe(1);
    vi.setSystemTime(Date.now() + TOKEN_CACHE_TTL_MS - 1);
    await service.authenticateToken(TOKEN);
    expect(db.lookups).toBe(1);
    vi.setSystemTime(Date.now() + 2);
    await service.authenticateToken(TOKEN);
    expect(db.lookups).toBe(2);
  });

  it('sees a revocation made elsewhere once the TTL has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { db, service } = fakeDatabase();
    expect(await service.authenticateToken(TOKEN)).not.toBeNull();
    db.row.revokedAt = new Date();
    vi.setSystemTime(Date.now() + TOKEN_CACHE_TTL_MS + 1);
    expect(await service.authenticateToken(TOKEN)).toBeNull();
  });

  it('does not cache unknown tokens', async () => {
    const { db, service } = fakeDatabase();
    expect(await service.authenticateToken('rot_unknown')).toBeNull();
    expect(await service.authenticateToken('rot_unknown')).toBeNull();
    expect(db.lookups).toBe(2);
    expect(await service.authenticateToken('not-a-token')).toBeNull();
    expect(db.lookups).toBe(2);
  });

  it('drops what it knows at a revocation in this process, including a lookup that was running', async () => {
    const { db, service, hold, unhold } = fakeDatabase();
    expect(await service.authenticateToken(TOKEN)).not.toBeNull();
    await service.revokeToken(1, 'test');
    expect(await service.authenticateToken(TOKEN)).toBeNull();

    // A lookup that read the token before a revocation must not put it back into the cache.
    db.row.revokedAt = null;
    hold();
    const racing = service.authenticateToken(TOKEN);
    await service.revokeToken(1, 'test');
    unhold();
    expect(await racing).not.toBeNull();
    expect(await service.authenticateToken(TOKEN)).toBeNull();
  });
});
