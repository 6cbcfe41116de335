import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/common/tokens.js';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn, signInWith } from './dashboard-fixtures.js';

describe('operators: sign-in sessions, tokens and the admin API', () => {
  let t: TestApp;
  let adminToken: string;

  beforeAll(async () => {
    t = await createTestApp({ SESSION_IDLE_TIMEOUT: '30m', SESSION_ABSOLUTE_TIMEOUT: '8h' });
    adminToken = await t.operatorToken('admin');
  });
  afterAll(() => t.close());

  const api = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${t.baseUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers ?? {}) },
    });

  it('signs an operator in with a hashed, HttpOnly, SameSite=Lax session cookie and a new id every time', async () => {
    const { password } = await t.get(OperatorsService).create('Morgan', 'manager', 'test');
    const first = await signInWith(t, 'morgan', password);
    expect(first.status).toBe(303);
    expect(first.location).toBe('/dashboard');
    expect(first.setCookie).toMatch(/HttpOnly/i);
    expect(first.setCookie).toMatch(/SameSite=Lax/i);
    expect(first.setCookie).not.toMatch(/Secure/i);
    const id = first.cookie.split('=')[1];
    const rows = await t.prisma.operatorSession.findMany({ where: { operator: { username: 'morgan' } } });
    expect(rows).toHaveLength(1);
    expect(rows[0].idHash).toBe(sha256Hex(id));
    expect(JSON.stringify(rows)).not.toContain(id);

    const second = await signInWith(t, 'MORGAN', password);
    expect(second.cookie).not.toBe(first.cookie);
    expect((await fetch(`${t.baseUrl}/dashboard`, { headers: { cookie: second.cookie } })).status).toBe(200);
    const audit = await t.prisma.auditEntry.findMany({ where: { action: 'operator.sign-in', actor: 'operator:morgan' } });
    expect(audit).toHaveLength(2);
  });

  it('rejects a wrong password, a forged sign-in form and throttles guessing', async () => {
    const { password } = await t.get(OperatorsService).create('quinn', 'responder', 'test');
    const wrong = await signInWith(t, 'quinn', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.cookie).toBe('');
    const forged = await fetch(`${t.baseUrl}/operator/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'quinn', password, _csrf: 'x'.repeat(43) }).toString(),
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('ro_operator='))).toBe(false);

    // 10 failures per operator name and window.
    for (let i = 1; i < 10; i++) expect((await signInWith(t, 'quinn', `guess ${i}`)).status).toBe(401);
    const throttled = await signInWith(t, 'quinn', password);
    expect(throttled.status).toBe(429);
    expect(throttled.cookie).toBe('');
    // Failures from one address: one entry per window, the rest counted for the next one.
    expect(await t.prisma.auditEntry.count({ where: { action: 'operator.sign-in.failed' } })).toBe(1);
  });

  it('redirects only to operator pages of this site after sign-in', async () => {
    const { password } = await t.get(OperatorsService).create('robin', 'manager', 'test');
    for (const next of ['//evil.example/dashboard', 'https://evil.example', '/\\evil.example', '/reset/abc']) {
      const form = await fetch(`${t.baseUrl}/operator/sign-in`);
      const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
      const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ username: 'robin', password, _csrf: csrf, next }).toString(),
      });
      expect(res.headers.get('location')).toBe('/dashboard');
    }
  });

  it('ends sessions at the idle and the absolute timeout', async () => {
    const idle = await signIn(t, 'manager');
    await t.prisma.operatorSession.update({ where: { idHash: sha256Hex(idle.cookie.split('=')[1]) }, data: { lastSeenAt: new Date(Date.now() - 31 * 60_000) } });
    expect((await fetch(`${t.baseUrl}/dashboard/campaigns/1/live.json`, { headers: { cookie: idle.cookie } })).status).toBe(401);

    const old = await signIn(t, 'manager');
    await t.prisma.operatorSession.update({ where: { idHash: sha256Hex(old.cookie.split('=')[1]) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await fetch(`${t.baseUrl}/dashboard`, { headers: { cookie: old.cookie } })).status).toBe(401);
  });

  it('needs the CSRF token to sign out, and signing out revokes the session', async () => {
    const s = await signIn(t, 'manager');
    const post = (body: Record<string, string>) =>
      fetch(`${t.baseUrl}/operator/sign-out`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.cookie },
        body: new URLSearchParams(body).toString(),
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ _csrf: 'wrong' })).status).toBe(403);
    const out = await post({ _csrf: s.csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/operator/sign-in');
    const row = await t.prisma.operatorSession.findUniqueOrThrow({ where: { idHash: sha256Hex(s.cookie.split('=')[1]) } });
    expect(row.revokedAt).toBeInstanceOf(Date);
    expect((await fetch(`${t.baseUrl}/dashboard`, { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('lets a cookie session write to the API only with its CSRF token', async () => {
    const s = await signIn(t, 'admin');
    const create = (headers: Record<string, string>) =>
      api('/api/operators', { method: 'POST', headers: { cookie: s.cookie, ...headers }, body: JSON.stringify({ username: `csrf-${Object.keys(headers).length}`, role: 'manager' }) });
    expect((await create({})).status).toBe(403);
    expect((await create({ 'x-csrf-token': s.csrf })).status).toBe(201);
  });

  it('lets admins create operators, list and revoke tokens, and disable operators', async () => {
    const created = await api('/api/operators', { method: 'POST', token: adminToken, body: JSON.stringify({ username: 'Casey', role: 'responder' }) });
    expect(created.status).toBe(201);
    const body = await created.json();
    expect(body).toMatchObject({ username: 'casey', role: 'responder' });
    expect(body.token).toMatch(/^rot_/);
    expect((await api('/api/operators/me', { token: body.token }).then((r) => r.json()))).toEqual({ username: 'casey', role: 'responder' });
    expect((await api('/api/operators', { method: 'POST', token: adminToken, body: JSON.stringify({ username: 'casey', role: 'manager' }) })).status).toBe(409);
    expect((await api('/api/operators', { method: 'POST', token: adminToken, body: JSON.stringify({ username: 'x y', role: 'root' }) })).status).toBe(400);

    const extra = await (await api('/api/operators/tokens', { method: 'POST', token: adminToken, body: JSON.stringify({ username: 'casey', name: 'laptop' }) })).json();
    const tokens = await (await api('/api/operators/tokens?username=casey', { token: adminToken })).json();
    expect(tokens.map((x: { name: string }) => x.name)).toEqual(['initial', 'laptop']);
    expect(JSON.stringify(tokens)).not.toContain(extra.token);
    expect(JSON.stringify(tokens)).not.toContain(sha256Hex(extra.token));

    // Used (and so cached) before it is revoked: the revocation still takes effect at once.
    expect((await api('/api/operators/me', { token: extra.token })).status).toBe(200);
    expect((await api(`/api/operators/tokens/${extra.id}`, { method: 'DELETE', token: adminToken })).status).toBe(204);
    expect((await api('/api/operators/me', { token: extra.token })).status).toBe(401);
    expect((await api(`/api/operators/tokens/${extra.id}`, { method: 'DELETE', token: adminToken })).status).toBe(404);
    expect((await api('/api/operators/me', { token: body.token })).status).toBe(200);

    expect((await api('/api/operators/casey/disable', { method: 'POST', token: adminToken })).status).toBe(204);
    expect((await api('/api/operators/me', { token: body.token })).status).toBe(401);
    const list = await (await api('/api/operators', { token: adminToken })).json();
    expect(list.find((o: { username: string }) => o.username === 'casey').disabledAt).not.toBeNull();
    const actions = (await t.prisma.auditEntry.findMany({ where: { actor: { startsWith: 'operator:admin' } } })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['operator.create', 'operator.token.create', 'operator.token.revoke', 'operator.disable']));
  });

  it('sets Secure on the session cookie when served over HTTPS', async () => {
    const secure = await createTestApp({ PUBLIC_URL: 'https://reset.example.org' });
    try {
      const { password } = await secure.get(OperatorsService).create('sam', 'manager', 'test');
      const session = (await signInWith(secure, 'sam', password)).setCookie;
      expect(session).toMatch(/^__Host-ro_operator=/);
      expect(session).toMatch(/; Secure/i);
      expect(session).toMatch(/HttpOnly/i);
    } finally {
      await secure.close();
    }
  });
});
