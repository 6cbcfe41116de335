import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { registerOperatorsCommands } from '../../src/cli/commands/operators.commands.js';
import { RedisService } from '../../src/redis/redis.module.js';
import { runCli } from '../support/cli.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** The chain's hash before it was keyed, written out here: what anyone with database access can recompute. */
function unkeyedHash(prevHash: string, e: { id: number; at: Date; actor: string; action: string; campaignId: number | null; details: unknown }): string {
  const sorted = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(sorted).join(',')}]`
      : v && typeof v === 'object'
        ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${sorted((v as Record<string, unknown>)[k])}`).join(',')}}`
        : JSON.stringify(v ?? null);
  return createHash('sha256').update(prevHash).update(sorted([e.id, e.at.toISOString(), e.actor, e.action, e.campaignId, e.details])).digest('hex');
}

/** What an attacker with write access to the table does: edit one entry and re-chain everything after it. */
async function rechainFrom(t: TestApp, fromId: number): Promise<void> {
  const rows = await t.prisma.auditEntry.findMany({ where: { id: { gte: fromId } }, orderBy: { id: 'asc' } });
  let prev = rows[0].prevHash;
  for (const row of rows) {
    const hash = unkeyedHash(prev, row);
    await t.prisma.$executeRaw`UPDATE audit_log SET prev_hash = ${prev}, hash = ${hash} WHERE id = ${row.id}`;
    prev = hash;
  }
}

describe('audit log API and tamper evidence', () => {
  let t: TestApp;
  let responder: string;
  let manager: string;
  let audit: AuditService;

  beforeAll(async () => {
    t = await createTestApp({ SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    audit = t.get(AuditService);
    responder = await t.operatorToken('responder');
    manager = await t.operatorToken('manager');
  });
  afterAll(() => t.close());

  const get = (path: string, token: string, accept = 'application/json') =>
    fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, accept } });

  describe('GET /api/audit', () => {
    beforeAll(async () => {
      for (let i = 1; i <= 25; i++) await audit.recordNow({ actor: 'operator:alice', action: 'campaign.pause', campaignId: 1 + (i % 2), details: { i } });
      await audit.recordNow({ actor: '=cmd|" /C calc"!A0', action: 'weird.actor', details: { note: '@SUM(1+1)' } });
    });

    it('pages newest first with a cursor and filters', async () => {
      const first = await (await get('/api/audit?limit=10&action=campaign.pause', responder)).json();
      expect(first.entries).toHaveLength(10);
      expect(first.entries[0].details).toEqual({ i: 25 });
      const second = await (await get(`/api/audit?limit=10&action=campaign.pause&before=${first.nextBefore}`, responder)).json();
      const third = await (await get(`/api/audit?limit=10&action=campaign.pause&before=${second.nextBefore}`, responder)).json();
      expect(third.entries).toHaveLength(5);
      expect(third.nextBefore).toBeNull();
      const ids = [...first.entries, ...second.entries, ...third.entries].map((e: { id: number }) => e.id);
      expect(new Set(ids).size).toBe(25);
      expect([...ids].sort((a, b) => b - a)).toEqual(ids);
      const one = await (await get('/api/audit?campaignId=1&action=campaign.pause', responder)).json();
      expect(one.entries).toHaveLength(12);
    });

    it('rejects bad paging parameters', async () => {
      expect((await get('/api/audit?limit=0', responder)).status).toBe(400);
      expect((await get('/api/audit?limit=5000', responder)).status).toBe(400);
      expect((await get('/api/audit?unknown=1', responder)).status).toBe(400);
    });

    it('exports the log as CSV with formula-like cells neutralised', async () => {
      const res = await get('/api/audit', responder, 'text/csv');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/csv');
      const lines = (await res.text()).trim().split('\r\n');
      expect(lines[0]).toBe('id,at,actor,action,campaign_id,details,hash');
      const total = await t.prisma.auditEntry.count();
      expect(lines).toHaveLength(total + 1);
      const weird = lines.find((l) => l.includes('weird.actor'))!;
      expect(weird).toContain(`"'=cmd|"" /C calc""!A0"`);
      expect(weird).not.toMatch(/,=|,@/);
    });

    it('is for admins and responders only', async () => {
      expect((await get('/api/audit', manager)).status).toBe(403);
      expect((await fetch(`${t.baseUrl}/api/audit`)).status).toBe(401);
      expect((await get('/api/audit', await t.operatorToken('admin'))).status).toBe(200);
    });
  });

  describe('verify', () => {
    beforeEach(async () => {
      for (let i = 0; i < 5; i++) await audit.recordNow({ actor: 'operator:bob', action: 'campaign.launch', details: { n: i } });
    });

    it('accepts an intact chain', async () => {
      const result = await audit.verify();
      expect(result.ok).toBe(true);
      expect(result.entries).toBe(await t.prisma.auditEntry.count());
    });

    it('keeps one unbroken chain and a head at the newest entry under 40 concurrent appends', async () => {
      const before = await t.prisma.auditEntry.count();
      await Promise.all(Array.from({ length: 40 }, (_, n) => audit.recordNow({ actor: 'operator:carol', action: 'campaign.pause', details: { n } })));
      expect(await audit.verify()).toMatchObject({ ok: true, entries: before + 40, problems: [] });
      const last = await t.prisma.auditEntry.findUniqueOrThrow({ where: { id: before + 40 } });
      expect(await audit.head()).toMatch(new RegExp(`^audit-head\\.v1\\.${before + 40}\\.0\\.${last.hash}\\.`));
    });

    it('catches a row edited by hand', async () => {
      const target = await t.prisma.auditEntry.findFirstOrThrow({ where: { action: 'campaign.launch' }, orderBy: { id: 'desc' }, skip: 2 });
      const original = JSON.stringify(target.details);
      await t.prisma.$executeRawUnsafe(`UPDATE audit_log SET details = '{"n": 999}'::jsonb WHERE id = ${target.id}`);
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: target.id, problem: 'entry content was changed' });
      await t.prisma.$executeRawUnsafe(`UPDATE audit_log SET details = '${original}'::jsonb WHERE id = ${target.id}`);
      expect((await audit.verify()).ok).toBe(true);

      await t.prisma.$executeRawUnsafe(`UPDATE audit_log SET actor = 'operator:mallory' WHERE id = ${target.id}`);
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: target.id });
      await t.prisma.$executeRawUnsafe(`UPDATE audit_log SET actor = 'operator:bob' WHERE id = ${target.id}`);
    });

    it('catches a deleted middle row', async () => {
      const rows = await t.prisma.auditEntry.findMany({ orderBy: { id: 'asc' }, select: { id: true } });
      const middle = rows[Math.floor(rows.length / 2)].id;
      const saved = await t.prisma.auditEntry.findUniqueOrThrow({ where: { id: middle } });
      await t.prisma.$executeRawUnsafe(`DELETE FROM audit_log WHERE id = ${middle}`);
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: middle, problem: `entry ${middle} is missing` });
      await t.prisma.auditEntry.create({ data: { ...saved, details: saved.details as object } });
      expect((await audit.verify()).ok).toBe(true);
    });

    it('catches the newest entries deleted, by the signed head', async () => {
      const total = await t.prisma.auditEntry.count();
      const saved = await t.prisma.auditEntry.findMany({ where: { id: { gt: total - 2 } } });
      await t.prisma.$executeRaw`DELETE FROM audit_log WHERE id > ${total - 2}`;
      expect(await audit.verify()).toMatchObject({
        ok: false,
        brokenAt: total - 1,
        problems: [`truncated: the signed head in Redis records ${total} entries, the table has ${total - 2}`],
      });
      for (const row of saved) await t.prisma.auditEntry.create({ data: { ...row, details: row.details as object } });
      expect((await audit.verify()).ok).toBe(true);
    });

    it('catches an entry rewritten and the rest re-hashed with the unkeyed function', async () => {
      const target = await t.prisma.auditEntry.findFirstOrThrow({ where: { action: 'campaign.launch' }, orderBy: { id: 'desc' }, skip: 1 });
      const saved = await t.prisma.auditEntry.findMany({ where: { id: { gte: target.id } } });
      await t.prisma.$executeRaw`UPDATE audit_log SET actor = 'operator:mallory' WHERE id = ${target.id}`;
      await rechainFrom(t, target.id);
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: target.id, problem: 'entry was re-hashed with the unkeyed function' });
      for (const row of saved) await t.prisma.$executeRaw`UPDATE audit_log SET actor = ${row.actor}, prev_hash = ${row.prevHash}, hash = ${row.hash} WHERE id = ${row.id}`;
      expect((await audit.verify()).ok).toBe(true);
    });

    it('prints the signed head, and a printed head catches a truncation after Redis lost its copy', async () => {
      const cli = async (...args: string[]) => {
        const run = await runCli(t, registerOperatorsCommands, args);
        return { code: run.exitCode, out: run.out, err: run.err };
      };
      const total = await t.prisma.auditEntry.count();
      const head = await cli('audit', 'head');
      expect(head.code).toBeUndefined();
      const value = head.out.trim();
      expect(value).toMatch(new RegExp(`^audit-head\\.v1\\.${total}\\.0\\.[0-9a-f]{64}\\.[0-9a-f]{64}$`));
      expect(value).toContain((await t.prisma.auditEntry.findUniqueOrThrow({ where: { id: total } })).hash);

      const last = await t.prisma.auditEntry.findUniqueOrThrow({ where: { id: total } });
      await t.prisma.$executeRaw`DELETE FROM audit_log WHERE id = ${total}`;
      await t.get(RedisService).del(`${t.config.redis.queuePrefix}:audit-head`);
      const withoutHead = await cli('audit', 'verify');
      expect(withoutHead.code).toBe(1);
      expect(JSON.parse(withoutHead.out).problems).toEqual(['no signed head in Redis: compare with a head printed earlier (audit verify --head <value>)']);
      const withPrinted = await cli('audit', 'verify', '--head', value);
      expect(withPrinted.code).toBe(1);
      expect(JSON.parse(withPrinted.out).problems).toEqual([
        'no signed head in Redis: compare with a head printed earlier (audit verify --head <value>)',
        `truncated: the head given records ${total} entries, the table has ${total - 1}`,
      ]);
      const forged = value.replace(`.v1.${total}.`, `.v1.${total - 1}.`);
      expect(JSON.parse((await cli('audit', 'verify', '--head', forged)).out).problems).toContain(
        'the head given: the signature of the head does not match: it was altered or made with another key',
      );
      const noHead = await cli('audit', 'head');
      expect(noHead.code).toBe(1);
      expect(noHead.err).toContain('no signed audit head yet');

      await t.prisma.auditEntry.create({ data: { ...last, details: last.details as object } });
      const restored = await cli('audit', 'verify', '--head', value);
      expect(JSON.parse(restored.out).problems).toEqual(['no signed head in Redis: compare with a head printed earlier (audit verify --head <value>)']);
      await audit.recordNow({ actor: 'operator:bob', action: 'campaign.launch' });
      expect(await cli('audit', 'verify', '--head', value)).toMatchObject({ code: undefined });
    });

    it('warns that a service running as the tables\' owner can still rewrite them', async () => {
      expect((await audit.verify()).warnings).toEqual(['the application role owns audit_log and can rewrite it: run the service as a role that does not own the tables']);
    });
  });
});

describe('audit entries from before the chain was keyed', () => {
  let t: TestApp;
  let audit: AuditService;

  beforeAll(async () => {
    t = await createTestApp({ SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    audit = t.get(AuditService);
    // What the migration finds on an existing installation: three entries chained with the unkeyed hash.
    let prev = '0'.repeat(64);
    for (let id = 1; id <= 3; id++) {
      const entry = { id, at: new Date(Date.UTC(2026, 10, id)), actor: 'cli:root', action: 'accounts.import', campaignId: null, details: { rows: id } };
      const hash = unkeyedHash(prev, entry);
      await t.prisma.auditEntry.create({ data: { ...entry, prevHash: prev, hash } });
      prev = hash;
    }
    await t.prisma.$executeRaw`UPDATE audit_chain SET legacy_through_id = 3`;
    for (let i = 0; i < 3; i++) await audit.recordNow({ actor: 'operator:bob', action: 'campaign.launch', details: { i } });
  });
  afterAll(() => t.close());

  it('checks them with the old function up to the boundary the migration recorded, and the rest keyed', async () => {
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 6, legacyEntries: 3, problems: [] });
    expect(await audit.head()).toMatch(/^audit-head\.v1\.6\.3\./);
  });

  it('catches the boundary moved to pass re-hashed entries off as legacy', async () => {
    await rechainFrom(t, 4);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 4, problem: 'entry was re-hashed with the unkeyed function' });
    await t.prisma.$executeRaw`UPDATE audit_chain SET legacy_through_id = 6`;
    expect(await audit.verify()).toMatchObject({
      ok: false,
      brokenAt: 4,
      problems: ['the signed head in Redis records the legacy boundary at 3, the table at 6', 'entry 6 is not the one the signed head in Redis records: the chain was rewritten'],
    });
  });
});

describe('the migration that takes UPDATE, DELETE and TRUNCATE away from the application role', () => {
  let t: TestApp;
  const role = `ro_audit_app_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.prisma.$executeRawUnsafe(`REVOKE ALL ON audit_log, audit_chain FROM ${role}`);
    await t.prisma.$executeRawUnsafe(`DROP ROLE IF EXISTS ${role}`);
    await t.close();
  });

  it('leaves a role that does not own the tables only reading and appending', async () => {
    const sql = await readFile(new URL('../../prisma/migrations/20261202062647_keyed_audit_chain/migration.sql', import.meta.url), 'utf8');
    const block = /^DO E'[\s\S]*?^';/m.exec(sql)![0];
    await t.prisma.$executeRawUnsafe(`CREATE ROLE ${role} LOGIN`);
    await t.prisma.$executeRawUnsafe(`GRANT ALL ON audit_log, audit_chain TO ${role}`);
    await t.prisma.$executeRawUnsafe(block);
    const rights = await t.prisma.$queryRawUnsafe<Array<Record<string, boolean>>>(`
      SELECT has_table_privilege('${role}', 'audit_log', 'SELECT') AS select, has_table_privilege('${role}', 'audit_log', 'INSERT') AS insert,
             has_table_privilege('${role}', 'audit_log', 'UPDATE') AS update, has_table_privilege('${role}', 'audit_log', 'DELETE') AS delete,
             has_table_privilege('${role}', 'audit_log', 'TRUNCATE') AS truncate, has_table_privilege('${role}', 'audit_chain', 'UPDATE') AS chain_update`);
    expect(rights).toEqual([{ select: true, insert: true, update: false, delete: false, truncate: false, chain_update: false }]);

    const url = new URL(t.config.database.url);
    url.username = role;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await expect(client.query('DELETE FROM audit_log')).rejects.toThrow(/permission denied/);
      await expect(client.query('TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });
});
