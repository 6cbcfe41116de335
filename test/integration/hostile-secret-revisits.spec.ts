import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { seedAccount } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** The revisit limit per address and window the README promises. */
const MAX_REVISITS_PER_ADDRESS = 20;

/** A scripted client revisiting a viewed one-time link must not flood the audit log, nor silence the alarm. */
describe('revisits of a viewed one-time secret', () => {
  let t: TestApp;
  let responder: string;

  beforeAll(async () => {
    t = await createTestApp({ SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64'), RATE_LIMIT_WINDOW: '15m' });
    responder = await t.operatorToken('responder');
  });
  afterAll(() => t?.close());

  async function issuedSecret(): Promise<{ secretId: number; path: string; csrf: string }> {
    const account = await seedAccount(t, { password: 'revisit owner pw 12' });
    const res = await fetch(`${t.baseUrl}/api/accounts/${account.username}/temporary-password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(201);
    const { url, secretId } = (await res.json()) as { url: string; secretId: number };
    const path = new URL(url).pathname;
    const page = (await (await fetch(`${t.baseUrl}${path}`, { headers: { accept: 'application/json' } })).json()) as { csrf: string };
    return { secretId, path, csrf: page.csrf };
  }

  const visit = (path: string, ip: string) => fetch(`${t.baseUrl}${path}`, { headers: { accept: 'application/json', 'x-forwarded-for': ip } });
  const reveal = (path: string, csrf: string, ip: string) =>
    fetch(`${t.baseUrl}${path}/reveal`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({ csrf }),
    });
  const revisitEntries = async (secretId: number) =>
    (await t.prisma.auditEntry.findMany({ where: { action: 'secret.revisited' }, orderBy: { id: 'asc' } })).filter(
      (e) => (e.details as { secretId: number }).secretId === secretId,
    );

  it('answers a flood from one address with 429 after the limit, and records one audit entry for it', async () => {
    const secret = await issuedSecret();
    expect((await reveal(secret.path, secret.csrf, '10.9.0.1')).status).toBe(200);
    const entriesBefore = await t.prisma.auditEntry.count();
    const FLOOD = MAX_REVISITS_PER_ADDRESS * 3;

    const statuses: number[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const res = i % 6 === 5 ? await reveal(secret.path, secret.csrf, '10.9.0.2') : await visit(secret.path, '10.9.0.2');
      statuses.push(res.status);
      const body = (await res.json()) as { status: string; message: string };
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(body.status).toBe('throttled');
        // The alarm is not silenced by the throttle.
        expect(body.message).toMatch(/contact the security team/);
      } else {
        expect(body).toMatchObject({ status: 'viewed' });
      }
    }
    expect(statuses.slice(0, MAX_REVISITS_PER_ADDRESS)).toEqual(Array(MAX_REVISITS_PER_ADDRESS).fill(410));
    expect(statuses.slice(MAX_REVISITS_PER_ADDRESS)).toEqual(Array(FLOOD - MAX_REVISITS_PER_ADDRESS).fill(429));

    // One entry for the whole flood, alerting the issuer; nothing else was written, and the chain still verifies.
    const entries = await revisitEntries(secret.secretId);
    expect(entries).toHaveLength(1);
    expect(entries[0].details).toMatchObject({ alert: expect.stringMatching(/^operator:responder/), ip: '10.9.0.2' });
    expect(await t.prisma.auditEntry.count()).toBe(entriesBefore + 1);
    expect(await t.get(AuditService).verify()).toMatchObject({ ok: true });
    const row = await t.prisma.oneTimeSecret.findUniqueOrThrow({ where: { id: secret.secretId } });
    expect(row.revisitedAt).not.toBeNull();
    expect(row.ciphertext).toBeNull();
  });

  it('records every address that reopens the link, once per window each, however often it comes back', async () => {
    const secret = await issuedSecret();
    expect((await reveal(secret.path, secret.csrf, '10.9.1.1')).status).toBe(200);
    // One address floods (1 entry, then refused); five others come twice each (1 entry each): the issuer sees them all.
    for (let i = 0; i < MAX_REVISITS_PER_ADDRESS + 5; i++) await visit(secret.path, '10.9.1.2');
    for (let a = 3; a < 8; a++) {
      for (let i = 0; i < 2; i++) expect((await visit(secret.path, `10.9.1.${a}`)).status, `10.9.1.${a}`).toBe(410);
    }
    const entries = await revisitEntries(secret.secretId);
    expect(entries.map((e) => (e.details as { ip: string }).ip)).toEqual(['10.9.1.2', '10.9.1.3', '10.9.1.4', '10.9.1.5', '10.9.1.6', '10.9.1.7']);
    expect(await t.get(AuditService).verify()).toMatchObject({ ok: true });
    // The address that used up its visits is still refused, before the database is asked.
    expect((await visit(secret.path, '10.9.1.2')).status).toBe(429);
  });

  it('never refuses a link that has not been viewed: only revisits count', async () => {
    const secret = await issuedSecret();
    for (let i = 0; i < MAX_REVISITS_PER_ADDRESS * 3; i++) expect((await visit(secret.path, '10.9.2.1')).status).toBe(200);
    expect((await reveal(secret.path, secret.csrf, '10.9.2.1')).status).toBe(200);
    expect(await revisitEntries(secret.secretId)).toHaveLength(0);
    expect((await visit(secret.path, '10.9.2.1')).status).toBe(410);
  });
});
