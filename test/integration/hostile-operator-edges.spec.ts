import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { RateLimiterService } from '../../src/rate-limit/rate-limiter.service.js';
import { Browser, createCampaign, flagAccounts, seedAccount } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn, signInWith } from './dashboard-fixtures.js';

describe('operator side edges', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.operatorToken('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps a pre-reset session out of the API docs and the queue board, even with an operator token', async () => {
    const account = await seedAccount(t, { password: 'pre-reset owner old password' });
    await flagAccounts(t, (await createCampaign(t)).id, [account.id]);
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(account.username, account.password)).location).toBe('/pre-reset');
    const bearer = { authorization: `Bearer ${admin}` };
    const withSession = { ...bearer, cookie: browser.cookieHeader };

    for (const path of ['/api/docs-json', '/admin/queues/api/queues', '/api/campaigns']) {
      expect((await fetch(`${t.baseUrl}${path}`, { headers: { ...bearer, accept: 'application/json' } })).status, `${path} with the token alone`).toBe(200);
      const res = await fetch(`${t.baseUrl}${path}`, { headers: { ...withSession, accept: 'application/json' } });
      expect(res.status, `${path} with the token and the pre-reset session`).toBe(403);
    }
    for (const path of ['/api/docs', '/admin/queues']) {
      const page = await fetch(`${t.baseUrl}${path}`, { headers: { ...withSession, accept: 'text/html' }, redirect: 'manual' });
      expect(page.status, path).toBe(303);
      expect(page.headers.get('location'), path).toBe('/pre-reset');
    }
  });

  it('records one failed operator sign-in per address and window, and counts the rest in the next entry', async () => {
    const before = await t.prisma.auditEntry.count({ where: { action: 'operator.sign-in.failed' } });
    for (let i = 0; i < 8; i++) expect((await signInWith(t, `nobody${i}`, 'wrong')).status).toBe(401);
    const entries = await t.prisma.auditEntry.findMany({ where: { action: 'operator.sign-in.failed' }, orderBy: { id: 'asc' } });
    expect(entries.length - before).toBe(1);
    expect(entries.at(-1)!.details).toEqual({ username: 'nobody0', address: '127.0.0.1' });
    // The window ends: the next failure from the address is recorded with the seven that were only counted.
    const limiter = t.get(RateLimiterService);
    await limiter.clear(limiter.key('operator-sign-in-failure-recorded', '127.0.0.1'));
    expect((await signInWith(t, 'nobody8', 'wrong')).status).toBe(401);
    const next = await t.prisma.auditEntry.findMany({ where: { action: 'operator.sign-in.failed' }, orderBy: { id: 'asc' } });
    expect(next.length - before).toBe(2);
    expect(next.at(-1)!.details).toEqual({ username: 'nobody8', address: '127.0.0.1', unrecordedEarlierFailures: 7 });
  });

  it('accepts only notice templates for a campaign, never a mail users ask for', async () => {
    const create = (template: string) =>
      fetch(`${t.baseUrl}/api/campaigns`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'T', incidentRef: 'INC-5', reason: 'Passwords may have leaked.', scope: 'all', template }),
      });
    for (const template of ['password-changed', 'reset-link', 'secret-link']) {
      const res = await create(template);
      expect(res.status, template).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(`no notice template "${template}"`);
    }
    expect((await create('breach-notice')).status).toBe(201);
  });
});

describe('operator cookies over https', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ PUBLIC_URL: 'https://reset.corp.test' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('clears the session and sign-in cookies with the attributes they were set with, Secure included', async () => {
    const { password } = await t.get(OperatorsService).create('casey', 'manager', 'test');
    const signedIn = await signInWith(t, 'casey', password);
    expect(signedIn.setCookie).toMatch(/^__Host-ro_operator=[^;]+;.*Secure/i);
    const clearedForm = signedIn.setCookies.find((c) => /^__Host-ro_login_csrf=;/.test(c));
    expect(clearedForm).toMatch(/;\s*Secure/i);

    const operator = await signIn(t, 'manager', 'drew');
    const out = await fetch(`${t.baseUrl}/operator/sign-out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: operator.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: operator.csrf }).toString(),
    });
    expect(out.status).toBe(303);
    const cleared = out.headers.getSetCookie().find((c) => c.startsWith('__Host-ro_operator=;'));
    expect(cleared).toMatch(/;\s*Secure/i);
    expect(cleared).toMatch(/;\s*Path=\//i);
    expect(cleared).toMatch(/;\s*HttpOnly/i);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/i);
  });
});
