import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom } from '../support/auth-flow.js';
import { handoffKey } from '../../src/common/gate-handoff.js';
import { RedisService } from '../../src/redis/redis.module.js';
import { ApplicationsService } from '../../src/integrations/applications/applications.service.js';
import { type ConnectedApp, connectApplication, gateAccount, gateSignIn } from '../support/gate.js';
import { captureOutput } from '../support/log-capture.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ORIGIN = 'https://portal.example.org';
const RETURN_TO = 'https://portal.example.org/after?x=1';

function pathOf(url: unknown): string {
  return new URL(String(url)).pathname;
}

describe('the gate', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let portal: ConnectedApp;
  let other: ConnectedApp;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, LOG_LEVEL: 'info' });
    portal = await connectApplication(t, { name: 'portal', returnOrigins: [ORIGIN], webhookUrl: 'http://127.0.0.1:9/hooks' });
    other = await connectApplication(t, { name: 'other', returnOrigins: ['https://other.example.org'], webhookUrl: 'http://127.0.0.1:9/hooks' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('answers continue for an unknown user, a user who is fine, and another application\'s flagged user', async () => {
    const campaign = await createCampaign(t);
    const fine = await gateAccount(t, portal);
    const elsewhere = await gateAccount(t, other);
    await flagAccounts(t, campaign.id, [elsewhere.id]);
    for (const username of ['nobody-here', fine.username, fine.username.toUpperCase(), elsewhere.username]) {
      const reply = await gateSignIn(t.baseUrl, portal.key, { username, returnTo: RETURN_TO });
      expect(reply).toEqual({ status: 200, json: { decision: 'continue' } });
    }
    expect(await t.get(RedisService).keys(`${t.config.redis.queuePrefix}:gate-handoff:*`)).toEqual([]);
  });

  it('knows a flagged user whatever Unicode form or case the application passes the name in', async () => {
    const campaign = await createCampaign(t);
    // Stored canonical (NFC, lower case) as the import stores it.
    const flagged = await gateAccount(t, portal, { username: 'garcí0.gate' });
    await flagAccounts(t, campaign.id, [flagged.id]);
    for (const typed of ['garcí0.gate', 'garci\u03010.gate', 'GARCÍ0.GATE', ' Garcí0.Gate ']) {
      const reply = await gateSignIn(t.baseUrl, portal.key, { username: typed, returnTo: RETURN_TO });
      expect(reply.json.decision, JSON.stringify(typed)).toBe('pre_reset');
    }
  });

  it('hands a flagged user to the pre-reset page, which shows the campaign phrase; the handoff works once', async () => {
    const campaign = await createCampaign(t);
    const flagged = await gateAccount(t, portal);
    await flagAccounts(t, campaign.id, [flagged.id]);
    const before = Date.now();
    const reply = await gateSignIn(t.baseUrl, portal.key, { username: flagged.username, returnTo: RETURN_TO });
    expect(reply.status).toBe(200);
    expect(reply.json.decision).toBe('pre_reset');
    expect(Object.keys(reply.json).sort()).toEqual(['decision', 'expiresAt', 'handoffUrl']);
    expect(String(reply.json.handoffUrl)).toMatch(/^http:\/\/localhost:3000\/gate\/handoff\/[A-Za-z0-9_-]{43}$/);
    const lifetime = Date.parse(String(reply.json.expiresAt)) - before;
    expect(lifetime).toBeGreaterThan(110_000);
    expect(lifetime).toBeLessThanOrEqual(121_000);

    const browser = new Browser(t.baseUrl);
    const opened = await browser.get(pathOf(reply.json.handoffUrl));
    expect(opened.status).toBe(303);
    expect(opened.location).toBe('/pre-reset');
    const page = await browser.get('/pre-reset');
    expect(page.status).toBe(200);
    expect(page.body).toContain('amber falcon');
    expect((await new Browser(t.baseUrl).get(pathOf(reply.json.handoffUrl))).status).toBe(410);
    const session = await t.prisma.session.findFirstOrThrow({ where: { accountId: flagged.id } });
    expect(session.kind).toBe('pre_reset');
  });

  it('answers password_change for an administrator-issued temporary password', async () => {
    const temp = await gateAccount(t, portal);
    await t.prisma.account.update({ where: { id: temp.id }, data: { passwordExpired: true } });
    const reply = await gateSignIn(t.baseUrl, portal.key, { username: temp.username });
    expect(reply.json.decision).toBe('password_change');
    expect(reply.json.passwordExpired).toBe(true);
    const opened = await new Browser(t.baseUrl).get(pathOf(reply.json.handoffUrl));
    expect(opened.location).toBe('/password/change');
  });

  it('gives exactly one session for 50 concurrent opens of one handoff', async () => {
    const campaign = await createCampaign(t);
    const flagged = await gateAccount(t, portal);
    await flagAccounts(t, campaign.id, [flagged.id]);
    const { json } = await gateSignIn(t.baseUrl, portal.key, { username: flagged.username });
    const replies = await Promise.all(Array.from({ length: 50 }, () => new Browser(t.baseUrl).get(pathOf(json.handoffUrl))));
    expect(replies.filter((r) => r.status === 303 && r.location === '/pre-reset')).toHaveLength(1);
    expect(replies.filter((r) => r.status === 410)).toHaveLength(49);
    expect(await t.prisma.session.count({ where: { accountId: flagged.id } })).toBe(1);
  });

  it('refuses a handoff after two minutes', async () => {
    const campaign = await createCampaign(t);
    const flagged = await gateAccount(t, portal);
    await flagAccounts(t, campaign.id, [flagged.id]);
    const { json } = await gateSignIn(t.baseUrl, portal.key, { username: flagged.username });
    const key = handoffKey(t.config.redis.queuePrefix, String(json.handoffUrl).split('/handoff/')[1]);
    expect(await t.get(RedisService).pttl(key)).toBeGreaterThan(110_000);
    await t.get(RedisService).pexpire(key, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect((await new Browser(t.baseUrl).get(pathOf(json.handoffUrl))).status).toBe(410);
    expect(await t.prisma.session.count({ where: { accountId: flagged.id } })).toBe(0);
  });

  it('refuses a disabled application\'s key and an operator token; the application key opens nothing else', async () => {
    const spare = await connectApplication(t, { name: 'spare', returnOrigins: [ORIGIN], webhookUrl: 'http://127.0.0.1:9/hooks' });
    expect((await gateSignIn(t.baseUrl, spare.key, { username: 'x' })).status).toBe(200);
    await t.get(ApplicationsService).disable('spare', 'test');
    expect((await gateSignIn(t.baseUrl, spare.key, { username: 'x' })).status).toBe(401);

    const admin = await t.operatorToken('admin');
    expect((await gateSignIn(t.baseUrl, admin, { username: 'x' })).status).toBe(401);
    expect((await gateSignIn(t.baseUrl, 'roa_not-a-real-key', { username: 'x' })).status).toBe(401);
    for (const path of ['/api/operators/me', '/api/campaigns', '/api/apps']) {
      const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${portal.key}`, accept: 'application/json' } });
      expect(res.status).toBe(401);
    }
    const created = await fetch(`${t.baseUrl}/api/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${portal.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sneaky', returnOrigins: [ORIGIN], webhookUrl: 'https://x.example/h' }),
    });
    expect(created.status).toBe(401);
  });

  it('creates applications over POST /api/apps for admins only, showing key and secret once', async () => {
    const body = JSON.stringify({ name: 'crm', returnOrigins: ['https://crm.example.org'], webhookUrl: 'https://crm.example.org/hooks', hashFormat: 'bcrypt' });
    const post = (token: string) => fetch(`${t.baseUrl}/api/apps`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    expect((await post(await t.operatorToken('responder'))).status).toBe(403);
    const res = await post(await t.operatorToken('admin'));
    expect(res.status).toBe(201);
    const created = (await res.json()) as { key: string; secret: string };
    expect(created.key).toMatch(/^roa_[A-Za-z0-9_-]{43}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const row = await t.prisma.application.findUniqueOrThrow({ where: { name: 'crm' } });
    expect(row.keyHash).not.toContain(created.key);
    expect(row.secretCiphertext).not.toContain(created.secret.slice(6));
    expect(row.hashFormat).toBe('bcrypt');
    const list = await fetch(`${t.baseUrl}/api/apps`, { headers: { authorization: `Bearer ${await t.operatorToken('admin')}` } });
    expect(JSON.stringify(await list.json())).not.toMatch(/roa_|whsec_|keyHash|secretCiphertext/);
    const insecure = await post(await t.operatorToken('admin')).then(async () =>
      fetch(`${t.baseUrl}/api/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await t.operatorToken('admin')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'plain', returnOrigins: ['https://a.example'], webhookUrl: 'http://hooks.example.org/x' }),
      }),
    );
    expect(insecure.status).toBe(400);
  });

  it('sends the user back to returnTo after the reset, and an off-origin returnTo to a plain page', async () => {
    const log = captureOutput();
    const handoffUrls: string[] = [];
    try {
      for (const [returnTo, expected] of [
        [RETURN_TO, RETURN_TO],
        ['https://evil.example/phish', null],
        ['https://portal.example.org.evil.example/x', null],
        ['javascript:alert(1)', null],
      ] as const) {
        const campaign = await createCampaign(t);
        const flagged = await gateAccount(t, portal);
        await flagAccounts(t, campaign.id, [flagged.id]);
        const { json } = await gateSignIn(t.baseUrl, portal.key, { username: flagged.username, returnTo });
        handoffUrls.push(String(json.handoffUrl));
        const browser = new Browser(t.baseUrl);
        await browser.get(pathOf(json.handoffUrl));
        await browser.post('/pre-reset/send-link', { _csrf: csrfFrom((await browser.get('/pre-reset')).body) });
        await sink.waitFor(() => mailTo(sink, flagged.email, LINK_SUBJECT).length === 1);
        const token = resetTokenFrom(mailTo(sink, flagged.email, LINK_SUBJECT)[0]);

        // Another browser holding the link: this product has no password to ask for, so it points at the application.
        const elsewhere = await new Browser(t.baseUrl).get(`/reset/${token}`);
        expect(elsewhere.body).toContain('Sign in again at <strong>portal</strong>');
        expect(elsewhere.body).not.toContain('name="password"');

        const csrf = csrfFrom((await browser.get(`/reset/${token}`)).body);
        const password = 'a brand new passphrase for the portal';
        const done = await browser.post(`/reset/${token}`, { newPassword: password, confirmPassword: password, _csrf: csrf });
        expect(done.status).toBe(200);
        if (expected) {
          expect(done.body).toContain('<a href="https://portal.example.org/after?x&#x3D;1">Continue to portal</a>');
          expect(done.body).toContain('<meta http-equiv="refresh" content="0;url=https://portal.example.org/after?x&#x3D;1">');
        } else {
          expect(done.body).toContain('You can close this page.');
          expect(done.body).not.toContain('evil.example');
          expect(done.body).not.toContain('javascript:');
        }
      }
    } finally {
      log.restore();
    }
    const text = log.lines.join('');
    expect(text).toContain('handed over by its application');
    for (const url of handoffUrls) expect(text).not.toContain(url.split('/handoff/')[1]);
  });

  it('takes about as long for an unknown user as for a known one, flagged or not (median of 200 calls each within 5 ms)', async () => {
    // A documented exception to the suite's "no timed assertions": the issue asks for this bound. Each round times an
    // unknown and a known call back to back (in alternating order) and the test takes the median of the differences,
    // so load that comes and goes on a shared machine hits both sides of a pair alike; the median drops the stalls.
    const campaign = await createCampaign(t);
    const flagged = await gateAccount(t, portal, { username: 'timing-flagged' });
    const fine = await gateAccount(t, portal, { username: 'timing-fine' });
    await flagAccounts(t, campaign.id, [flagged.id]);
    const time = async (username: string) => {
      const started = process.hrtime.bigint();
      await gateSignIn(t.baseUrl, portal.key, { username });
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const medianDifference = async (known: string) => {
      const differences: number[] = [];
      for (let i = 0; i < 200; i++) {
        const unknown = `timing-unknown-${i}`;
        if (i % 2) {
          const u = await time(unknown);
          differences.push((await time(known)) - u);
        } else {
          const k = await time(known);
          differences.push(k - (await time(unknown)));
        }
      }
      return [...differences].sort((a, b) => a - b)[100];
    };
    for (let i = 0; i < 20; i++) await Promise.all([time('timing-warm-up'), time(flagged.username), time(fine.username)]);
    expect(Math.abs(await medianDifference(fine.username))).toBeLessThan(5);
    expect(Math.abs(await medianDifference(flagged.username))).toBeLessThan(5);
  });
});
