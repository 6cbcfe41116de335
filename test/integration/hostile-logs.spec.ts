import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/common/tokens.js';
import { Browser, CHANGED_SUBJECT, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom, seedAccount } from '../support/auth-flow.js';
import { accountRow, csvText } from '../support/factories.js';
import { captureOutput } from '../support/log-capture.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn, signInWith } from './dashboard-fixtures.js';

/**
 * One scan over every log line (level trace) written during the whole flow: campaign launch → notice → login →
 * pre-reset → link → reset, and the admin-assisted path: temporary password → view-once reveal → forced change.
 */
describe('logs of the whole flow, launch to temporary password', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let capture: ReturnType<typeof captureOutput>;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    capture = captureOutput();
    t = await createTestApp({ SMTP_URL: sink.url, LOG_LEVEL: 'trace', CAMPAIGN_SWEEP_INTERVAL: '1s', SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await t?.close();
    capture?.restore();
    await sink?.stop();
  });

  it('never contain a password, token, session id, CSRF token or reset/secret URL', async () => {
    const secrets: string[] = [];
    const keep = (...values: string[]) => secrets.push(...values.filter(Boolean));

    const responder = await t.operatorToken('responder');
    const operator = await signIn(t, 'responder', 'log-scan-op');
    keep(responder, operator.password, operator.cookie.split('=')[1], operator.csrf);
    const api = (path: string, body: unknown) =>
      fetch(`${t.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const lena = await seedAccount(t, { password: 'Lighthouse keeper 1987' });
    const omar = await seedAccount(t, { password: 'Omars forgotten password' });
    const created = await api('/api/campaigns', { name: 'Log scan', incidentRef: 'INC-9', reason: 'Passwords may have leaked.', scope: 'usernames', usernames: [lena.username, omar.username] });
    expect(created.status).toBe(201);
    const campaignId = ((await created.json()) as { campaign: { id: number } }).campaign.id;
    expect((await api(`/api/campaigns/${campaignId}/launch`, {})).status).toBe(200);
    await sink.waitFor(() => sink.to(lena.email).length === 1 && sink.to(omar.email).length === 1);

    // Lena: wrong password, right password, pre-reset page, link, a weak try, the reset, a full sign-in.
    const wrong = 'a wrong password 42';
    const weak = 'qwerty123456';
    const lenaNew = 'seven quiet otters paddle north';
    keep(lena.password, wrong, weak, lenaNew);
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(lena.username, wrong)).status).toBe(401);
    expect((await browser.login(lena.username, lena.password)).location).toBe('/pre-reset');
    const preReset = csrfFrom((await browser.get('/pre-reset')).body);
    expect((await browser.post('/pre-reset/send-link', { _csrf: preReset })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, lena.email, LINK_SUBJECT).length === 1);
    const token = resetTokenFrom(mailTo(sink, lena.email, LINK_SUBJECT)[0]);
    const resetUrl = /https?:\/\/\S+\/reset\/[A-Za-z0-9_-]{43}/.exec(mailTo(sink, lena.email, LINK_SUBJECT)[0].parsed.text ?? '')![0];
    const csrf = csrfFrom((await browser.get(`/reset/${token}`)).body);
    keep(token, `/reset/${token}`, resetUrl, csrf, preReset);
    await browser.post(`/reset/${token}`, { newPassword: weak, confirmPassword: weak, _csrf: csrf });
    expect((await browser.post(`/reset/${token}`, { newPassword: lenaNew, confirmPassword: lenaNew, _csrf: csrf })).status).toBe(303);
    const lenaAfter = new Browser(t.baseUrl);
    expect((await lenaAfter.login(lena.username, lenaNew)).location).toBe('/account');
    await sink.waitFor(() => mailTo(sink, lena.email, CHANGED_SUBJECT).length === 1);

    // Omar: a temporary password with a phone code, mailed as a view-once link, revealed, then replaced.
    const issued = await api(`/api/accounts/${omar.username}/temporary-password`, { email: true, code: true, reason: 'INC-9 help desk call' });
    expect(issued.status).toBe(201);
    const { url, code } = (await issued.json()) as { url: string; code: string };
    const secretToken = url.split('/secret/')[1];
    keep(url, secretToken, `/secret/${secretToken}`, code);
    const local = url.replace(/^https?:\/\/[^/]+/, t.baseUrl);
    const page = await fetch(local);
    const formCsrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
    keep(formCsrf);
    const revealed = await fetch(`${local}/reveal`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: formCsrf, code }).toString(),
    });
    expect(revealed.status).toBe(200);
    const temporary = /<code>([^<]+)<\/code>/.exec(await revealed.text())![1].replace(/&amp;/g, '&').replace(/&#x3D;/g, '=').replace(/&#x27;/g, "'");
    const omarNew = 'nine brave owls sing at dawn';
    keep(temporary, omarNew, omar.password);
    await fetch(local); // a second visit: alarm, logged
    const omarBrowser = new Browser(t.baseUrl);
    expect((await omarBrowser.login(omar.username, temporary)).location).toBe('/password/change');
    const change = csrfFrom((await omarBrowser.get('/password/change')).body);
    keep(change);
    expect((await omarBrowser.post('/password/change', { newPassword: omarNew, confirmPassword: omarNew, _csrf: change })).status).toBe(303);
    expect((await new Browser(t.baseUrl).login(omar.username, omarNew)).location).toBe('/account');

    const sessionIds = [browser, lenaAfter, omarBrowser].flatMap((b) => b.setCookieHeaders).map((h) => h.split(';')[0].split('=')[1]).filter((v) => v && v.length > 20);
    expect(sessionIds.length).toBeGreaterThanOrEqual(4);
    keep(...sessionIds);
    // Form-encoded and URL-encoded spellings of the passwords too.
    for (const s of [...secrets]) if (/[^A-Za-z0-9_-]/.test(s)) keep(encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2));

    await new Promise((r) => setTimeout(r, 500)); // async log writes
    const log = capture.lines.join('');
    // The capture saw the flow: request logs with redacted tokens, the sign-ins, the notices, the reveal alarm.
    expect(log).toContain('/reset/[redacted]');
    expect(log).toContain('signed in');
    expect(log).toMatch(/opened again after it had been viewed/);
    expect(log.split('\n').length).toBeGreaterThan(50);
    for (const secret of new Set(secrets)) expect(log.includes(secret), `log contains ${secret.slice(0, 4)}… (${secret.length} chars)`).toBe(false);
  });
  it('never contain them on the operator and import side either: new operators and tokens, uploads, link sign-in, codes, floods', async () => {
    const secrets: string[] = [];
    const keep = (...values: string[]) => secrets.push(...values.filter(Boolean));
    const from = capture.lines.length;
    const admin = await t.operatorToken('admin');
    keep(admin);
    const api = (path: string, body: unknown, token = admin, type = 'application/json') =>
      fetch(`${t.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

    // A new operator (password and token shown once), a second token, and sign-ins with a wrong and the right password.
    const created = (await (await api('/api/operators', { username: 'log-scan-new', role: 'responder' })).json()) as { password: string; token: string };
    const second = (await (await api('/api/operators/tokens', { username: 'log-scan-new', name: 'laptop' })).json()) as { token: string };
    keep(created.password, created.token, second.token);
    for (const password of ['operator wrong pw 99', created.password]) {
      const { csrf, setCookies } = await signInWith(t, 'log-scan-new', password);
      keep(password, csrf, ...setCookies.map((c) => c.split(';')[0].split('=')[1]).filter((v) => v.length > 20));
    }
    expect((await fetch(`${t.baseUrl}/api/campaigns`, { headers: { authorization: `Bearer ${second.token}` } })).status).toBe(200);

    // An upload with plain demo passwords: good rows, a refused row, a too-long password; then a refused file.
    const demo = ['demo password alpha 1', 'demo password bravo 2', 'demo password charlie 3', 'x'.repeat(129)];
    keep(...demo);
    const header = 'username,email,displayName,orgUnit,locale,emailVerified,password';
    const rows = [
      `${accountRow(70001).username},u70001@example.org,A,ops,en,true,${demo[0]}`,
      `${accountRow(70002).username},u70002@example.org,B,ops,en,true,${demo[1]}`,
      `${accountRow(70003).username},"Boss <boss@evil.example>",C,ops,en,true,${demo[2]}`,
      `${accountRow(70004).username},u70004@example.org,D,ops,en,true,${demo[3]}`,
    ];
    const upload = await api('/api/accounts/import?allowPlaintext=true', csvText(rows, header), admin, 'text/csv');
    expect(await upload.json()).toMatchObject({ created: 2, rejected: 2 });
    expect((await api('/api/accounts/import', csvText(rows, 'user,mail,name,ou,lang,verified,password'), admin, 'text/csv')).status).toBe(400);
    const imported = new Browser(t.baseUrl, '10.8.0.1');
    expect((await imported.login(accountRow(70001).username, demo[0])).status).toBe(303);

    // Signing in through a reset link (the token is in the path of the page and the post).
    const campaign = await createCampaign(t);
    const flagged = await seedAccount(t, { password: 'flagged log scan pw 7' });
    await flagAccounts(t, campaign.id, [flagged.id]);
    const token = randomBytes(32).toString('base64url');
    await t.prisma.resetToken.create({ data: { tokenHash: sha256Hex(token), accountId: flagged.id, expiresAt: new Date(Date.now() + 600_000) } });
    keep(token, flagged.password);
    const viaLink = new Browser(t.baseUrl, '10.8.0.2');
    const signInPage = await viaLink.get(`/reset/${token}`);
    keep(csrfFrom(signInPage.body));
    const wrongHere = await viaLink.post(`/reset/${token}/sign-in`, { username: flagged.username, password: 'not the password 42', _csrf: csrfFrom(signInPage.body) });
    keep('not the password 42', csrfFrom(wrongHere.body));
    expect((await viaLink.post(`/reset/${token}/sign-in`, { username: flagged.username, password: flagged.password, _csrf: csrfFrom(wrongHere.body) })).location).toBe(`/reset/${token}`);
    keep(...viaLink.setCookieHeaders.map((h) => h.split(';')[0].split('=')[1]).filter((v) => v && v.length > 20));

    // A secret with a code: a wrong code, the right one, then a revisit flood that gets throttled.
    const issued = (await (await api(`/api/accounts/${accountRow(70002).username}/temporary-password`, { code: true })).json()) as { url: string; code: string };
    const path = new URL(issued.url).pathname;
    keep(issued.url, path.split('/secret/')[1], issued.code);
    const { csrf } = (await (await fetch(`${t.baseUrl}${path}`, { headers: { accept: 'application/json' } })).json()) as { csrf: string };
    keep(csrf);
    const wrongCode = issued.code === '000000' ? '111111' : '000000';
    const post = (code: string) =>
      fetch(`${t.baseUrl}${path}/reveal`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify({ csrf, code }) });
    expect((await post(wrongCode)).status).toBe(403);
    const revealed = (await (await post(issued.code)).json()) as { password: string };
    keep(revealed.password);
    const flood = [];
    for (let i = 0; i < 25; i++) flood.push((await fetch(`${t.baseUrl}${path}`, { headers: { 'x-forwarded-for': '10.8.0.3' } })).status);
    expect(flood).toContain(429);

    for (const v of [...secrets]) if (/[^A-Za-z0-9_-]/.test(v)) keep(encodeURIComponent(v), new URLSearchParams({ v }).toString().slice(2));
    await new Promise((r) => setTimeout(r, 500));
    const log = capture.lines.slice(from).join('');
    expect(log).toContain('/api/accounts/import');
    expect(log).toContain('/reset/[redacted]/sign-in');
    expect(log).toMatch(/accounts imported/);
    for (const secret of new Set(secrets)) expect(log.includes(secret), `log contains ${secret.slice(0, 4)}… (${secret.length} chars)`).toBe(false);
  });
});
