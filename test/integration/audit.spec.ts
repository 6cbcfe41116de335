import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('audit log API and tamper evidence', () => {
  let t: TestApp;
  let responder: string;
  let manager: string;
  let audit: AuditService;

  beforeAll(async () => {
    t = await createTestApp();
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
      await t.prisma.$executeRawUnsafe(`DELETE FROM audit_log WHERE id = ${middle}`);
      expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: middle, problem: `entry ${middle} is missing` });
    });
  });
});
