import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMail } from '../../src/notifications/link-free.js';
import { Browser, CHANGED_SUBJECT, LINK_SUBJECT, csrfFrom, mailTo, resetTokenFrom, seedAccount, type SeededAccount } from '../support/auth-flow.js';
import { visibleText } from '../support/mail-text.js';
import type { ReceivedMail } from '../support/smtp-sink.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn } from './dashboard-fixtures.js';

/** Markup, script, quotes and every link shape a mail client or browser might act on. */
const EVIL =
  `<script>alert("xss")</script><img src=x onerror=alert(1)> "q" 'a' & ` +
  `<a href="https://evil.example/login">Log in at evil.example</a> http://evil.example/x www.evil.example bob@evil.example ` +
  `javascript:alert(1) evil\uFF0Eexample 10.0.0.1`;
const EVIL_UNIT = '<b onmouseover=alert(2)>ops</b>';
const EVIL_REPLY = '<script>alert("smtp")</script> mailbox <img src=x onerror=alert(3)> unavailable';
const EVIL_CAMPAIGN = '<script>alert("name")</script> Breach';

/** Raw, executable markup from hostile data; escaped text (&lt;script&gt;) is fine. */
function expectNoActiveMarkup(html: string, where: string): void {
  expect(html, where).not.toMatch(/<script\b[^>]*>\s*alert/i);
  expect(html, where).not.toMatch(/<img\b/i);
  expect(html, where).not.toMatch(/<b onmouseover/i);
  expect(html, where).not.toMatch(/onerror\s*=|onmouseover\s*=/i);
  expect(html, where).not.toMatch(/<a\b[^>]*evil/i);
}

/** Independent of the product's own link check: nothing a linkifier turns into a link. */
function expectLinkFree(text: string, where: string): void {
  const folded = text.normalize('NFKC');
  expect(folded, where).not.toMatch(/[a-z][a-z0-9+.-]*:\/\//i);
  expect(folded, where).not.toMatch(/\b(?:javascript|mailto|data):/i);
  expect(folded, where).not.toMatch(/\bwww\d{0,3}\./i);
  expect(folded, where).not.toMatch(/\bevil\.example\b/i);
  expect(folded, where).not.toMatch(/[a-z0-9]@[a-z0-9]/i);
  expect(folded, where).not.toMatch(/\b\d{1,3}(?:\.\d{1,3}){3}\b/);
}

describe('hostile account data and campaign text', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;
  let evil: SeededAccount;
  let urlName: SeededAccount;
  let refused: SeededAccount;
  let pending: SeededAccount;
  let campaignId: number;

  const api = (path: string, body?: unknown) =>
    fetch(`${t.baseUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const notices = (to: string) => sink.to(to).filter((m) => m.parsed.subject !== LINK_SUBJECT && m.parsed.subject !== CHANGED_SUBJECT && !/temporary/i.test(m.parsed.subject ?? ''));

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s', NOTICE_RETRY_DELAY_MS: '100' });
    responder = await t.operatorToken('responder');
    evil = await seedAccount(t, { password: 'evil accounts old password' });
    urlName = await seedAccount(t, { password: 'url accounts old password', username: 'www.evil.example' });
    refused = await seedAccount(t, { password: 'refused accounts old password' });
    pending = await seedAccount(t, { password: 'pending accounts old password' });
    await t.prisma.account.update({ where: { id: evil.id }, data: { displayName: EVIL, orgUnit: EVIL_UNIT } });
    await t.prisma.account.update({ where: { id: urlName.id }, data: { displayName: null } });
    await t.prisma.account.update({ where: { id: pending.id }, data: { displayName: EVIL, orgUnit: EVIL_UNIT } });
    sink.behaviour = (rcpt) => (rcpt === refused.email ? { code: 550, message: EVIL_REPLY } : undefined);

    const created = await api('/api/campaigns', {
      name: EVIL_CAMPAIGN,
      incidentRef: 'INC-66',
      reason: 'Passwords may have been copied.',
      scope: 'usernames',
      usernames: [evil.username, urlName.username, refused.username, pending.username],
      noticeRate: 50,
    });
    expect(created.status).toBe(201);
    campaignId = ((await created.json()) as { campaign: { id: number } }).campaign.id;
    expect((await api(`/api/campaigns/${campaignId}/launch`, {})).status).toBe(200);
    await sink.waitFor(() => notices(evil.email).length === 1 && notices(urlName.email).length === 1 && notices(pending.email).length === 1);
    for (let i = 0; i < 150; i++) {
      const row = await t.prisma.campaignAccount.findFirst({ where: { campaignId, accountId: refused.id } });
      if (row?.state === 'notice_failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('refuses campaign text that a mail client could turn into a link', async () => {
    const variants = [
      'see https://status.example.com',
      'see http://10.1.2.3/',
      'visit www.example.com',
      'visit status.example.com now',
      'write to security@example.com',
      'javascript:alert(1)',
      '<a href="/reset">reset</a>',
      'status\uFF0Eexample\uFF0Ecom',
      'status\u200B.example.com',
      'ftp://files.example.net',
    ];
    for (const text of variants) {
      for (const field of ['incidentRef', 'reason'] as const) {
        const body = { name: 'x', incidentRef: 'INC-1', reason: 'Passwords may have leaked.', scope: 'all', [field]: text };
        const res = await api('/api/campaigns', body);
        expect(res.status, `${field}: ${text}`).toBe(400);
      }
    }
    expect(await t.prisma.campaign.count()).toBe(1);
  });

  it('delivers notices whose interpolated account data is escaped and can form no link', async () => {
    for (const account of [evil, urlName, pending]) {
      const [mail] = notices(account.email);
      const parts = { subject: mail.parsed.subject ?? '', text: mail.parsed.text ?? '', html: typeof mail.parsed.html === 'string' ? mail.parsed.html : '' };
      expect(parts.html.length).toBeGreaterThan(100);
      expect(checkMail(parts), account.username).toEqual([]);
      expectNoActiveMarkup(parts.html, `notice html to ${account.username}`);
      expect(parts.html, 'no link markup at all').not.toMatch(/href|<a\b/i);
      for (const [name, value] of Object.entries({ subject: parts.subject, text: parts.text, html: visibleText(parts.html) })) {
        expectLinkFree(value, `notice ${name} to ${account.username}`);
      }
    }
    // The hostile name is there, defanged, rather than dropped.
    const [evilNotice] = notices(evil.email);
    expect(evilNotice.parsed.text).toContain('bob[at]evil[.]example');
    expect(evilNotice.parsed.html).toMatch(/&lt;script&gt;alert/);
    expect(notices(urlName.email)[0].parsed.text).toContain('www[.]evil[.]example');
  });

  it('escapes hostile data on the pre-reset page, the reset page, the reset-link mail, the account page and the confirmation', async () => {
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(evil.username, evil.password)).location).toBe('/pre-reset');
    const preReset = await browser.get('/pre-reset');
    expect(preReset.status).toBe(200);
    expectNoActiveMarkup(preReset.body, 'pre-reset page');
    expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(preReset.body) })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, evil.email, LINK_SUBJECT).length === 1);
    const link = mailTo(sink, evil.email, LINK_SUBJECT)[0];
    expectNoActiveMarkup(String(link.parsed.html), 'reset-link mail');
    expect(String(link.parsed.html)).toMatch(/&lt;script&gt;alert/);

    const token = resetTokenFrom(link);
    const form = await browser.get(`/reset/${token}`);
    expectNoActiveMarkup(form.body, 'reset page');
    const newPassword = 'eleven purple lanterns drift';
    expect((await browser.post(`/reset/${token}`, { newPassword, confirmPassword: newPassword, _csrf: csrfFrom(form.body) })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, evil.email, CHANGED_SUBJECT).length === 1);
    const changed = mailTo(sink, evil.email, CHANGED_SUBJECT)[0];
    expectNoActiveMarkup(String(changed.parsed.html), 'password-changed mail');
    expect(String(changed.parsed.html)).toMatch(/&lt;script&gt;alert/);

    const full = new Browser(t.baseUrl);
    expect((await full.login(evil.username, newPassword)).location).toBe('/account');
    const account = await full.get('/account');
    expect(account.status).toBe(200);
    expectNoActiveMarkup(account.body, 'account page');
    expect(account.body).toMatch(/&lt;script&gt;alert/);
  });

  it('escapes sign-in input echoed back on the user and operator sign-in pages', async () => {
    const reflected = '"><script>alert("reflected")</script><img src=x onerror=alert(4)>';
    const browser = new Browser(t.baseUrl, '10.9.9.9');
    const page = await browser.login(reflected, 'whatever');
    expect(page.status).toBe(401);
    expectNoActiveMarkup(page.body, 'login page');
    expect(page.body).toContain('&lt;script&gt;');

    const form = await fetch(`${t.baseUrl}/operator/sign-in`);
    const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
    const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ username: reflected, password: 'x', _csrf: csrf, next: '/dashboard"><script>alert(5)</script>' }).toString(),
    });
    const body = await res.text();
    expect(res.status).toBe(401);
    expectNoActiveMarkup(body, 'operator sign-in page');
    expect(body).not.toContain('alert(5)');
  });

  it('escapes campaign text, account data and SMTP replies on the dashboard pages', async () => {
    const failed = await t.prisma.campaignAccount.findFirstOrThrow({ where: { campaignId, accountId: refused.id } });
    expect(failed.noticeError).toContain('<script>');
    const manager = await signIn(t, 'manager');
    const index = await fetch(`${t.baseUrl}/dashboard`, { headers: { cookie: manager.cookie } });
    const indexHtml = await index.text();
    expect(index.status).toBe(200);
    expectNoActiveMarkup(indexHtml, 'dashboard index');
    expect(indexHtml).toContain('&lt;script&gt;alert(&quot;name&quot;)');

    const page = await fetch(`${t.baseUrl}/dashboard/campaigns/${campaignId}`, { headers: { cookie: manager.cookie } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expectNoActiveMarkup(html, 'dashboard campaign page');
    expect(html).toContain('&lt;script&gt;alert(&quot;smtp&quot;)'); // the failure reply
    expect(html).toContain('&lt;b onmouseover'); // the pending account's org unit
  });

  it('escapes hostile data in the temporary-password link mail and the secret pages', async () => {
    const res = await api(`/api/accounts/${pending.username}/temporary-password`, { email: true });
    expect(res.status).toBe(201);
    const { url } = (await res.json()) as { url: string };
    await sink.waitFor(() => sink.to(pending.email).some((m: ReceivedMail) => String(m.parsed.html).includes('/secret/')));
    const mail = sink.to(pending.email).find((m) => String(m.parsed.html).includes('/secret/'))!;
    expectNoActiveMarkup(String(mail.parsed.html), 'secret-link mail');
    expect(String(mail.parsed.html)).toMatch(/&lt;script&gt;alert/);
    const page = await fetch(url.replace(/^https?:\/\/[^/]+/, t.baseUrl));
    expectNoActiveMarkup(await page.text(), 'secret page');
  });
});
