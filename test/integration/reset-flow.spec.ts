import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { Browser, LINK_SUBJECT, CHANGED_SUBJECT, mailTo, createCampaign, csrfFrom, flagAccounts, resetTokenFrom, seedAccount, } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const NEW_PASSWORD = 'violet tractor mends the quiet harbour';

describe('next login: pre-reset gate, one-time link, reset', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let campaignId: number;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, PUBLIC_URL: 'http://reset.test', PASSWORD_EXPIRY_DAYS: '30' });
    campaignId = (await createCampaign(t)).id;
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('walks a flagged account from login to a new password', async () => {
    const alice = await seedAccount(t, { password: 'Winter2019 was cold!', bcrypt: true, email: 'alice.w@example.org' });
    await flagAccounts(t, campaignId, [alice.id]);
    const browser = new Browser(t.baseUrl);

    // Same answer for an unknown user and a wrong password.
    const unknown = await browser.login('nobody-here', 'whatever password');
    const wrong = await browser.login(alice.username, 'not the password');
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toContain('The username or password is incorrect.');
    expect(wrong.body.replace(/value="[^"]*"/g, '')).toBe(unknown.body.replace(/value="[^"]*"/g, ''));

    const login = await browser.login(alice.username.toUpperCase(), alice.password);
    expect(login.status).toBe(303);
    expect(login.location).toBe('/pre-reset');
    const sessionCookie = browser.setCookieHeaders.find((h) => h.startsWith('ro_session='))!;
    expect(sessionCookie).toMatch(/HttpOnly/i);
    expect(sessionCookie).toMatch(/SameSite=Lax/i);
    const sessionId = browser.cookies.get('ro_session')!;
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await t.prisma.session.count({ where: { idHash: sessionId } })).toBe(0);

    // The pre-reset session reaches nothing else.
    expect((await browser.get('/account')).location).toBe('/pre-reset');
    expect((await browser.get('/account', { json: true })).status).toBe(403);

    const page = await browser.get('/pre-reset');
    expect(page.status).toBe(200);
    expect(page.body).toContain('signs that passwords may have been copied');
    expect(page.body).toContain('amber falcon');
    expect(page.body).not.toMatch(/<a\s/i);
    expect(page.body.match(/<button/g)).toHaveLength(2); // the link button and sign-out
    const progressRow = () => t.prisma.campaignAccount.findUniqueOrThrow({ where: { campaignId_accountId: { campaignId, accountId: alice.id } } });
    expect((await progressRow()).state).toBe('pre_reset');
    expect((await browser.get('/pre-reset', { json: true })).json()).toMatchObject({ phrase: 'amber falcon', canSendLink: true, maskedEmail: 'a***w@e***.org' });

    expect((await browser.post('/pre-reset/send-link', {})).status).toBe(403);
    const sent = await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) });
    expect(sent.status).toBe(303);
    expect(sent.location).toBe('/pre-reset?sent=1');
    const confirmation = await browser.get('/pre-reset?sent=1');
    expect(confirmation.body).toContain('a***w@e***.org');
    expect(confirmation.body).toContain('30 minutes');

    await sink.waitFor(() => mailTo(sink, alice.email, LINK_SUBJECT).length === 1);
    const linkMail = mailTo(sink, alice.email, LINK_SUBJECT)[0];
    expect(linkMail.parsed.text).toContain('http://reset.test/reset/');
    const token = resetTokenFrom(linkMail);
    expect((await progressRow()).state).toBe('link_sent');
    const tokenRow = await t.prisma.resetToken.findFirstOrThrow({ where: { accountId: alice.id } });
    expect(tokenRow.tokenHash).not.toContain(token);
    expect(tokenRow.expiresAt.getTime() - tokenRow.createdAt.getTime()).toBe(30 * 60_000);

    // Mail scanners and repeated opens do not use the link up.
    for (let i = 0; i < 2; i++) expect((await browser.get(`/reset/${token}`)).status).toBe(200);
    expect((await new Browser(t.baseUrl).get(`/reset/${token}`)).status).toBe(200);
    expect((await t.prisma.resetToken.findUniqueOrThrow({ where: { id: tokenRow.id } })).usedAt).toBeNull();

    // Another device: the link asks for the current password first, then continues with the same link.
    const laptop = new Browser(t.baseUrl);
    const signInPage = await laptop.get(`/reset/${token}`);
    expect(signInPage.body).toContain('Sign in to continue');
    expect(signInPage.body).not.toContain('newPassword');
    const continued = await laptop.post(`/reset/${token}/sign-in`, { username: alice.username, password: alice.password, _csrf: csrfFrom(signInPage.body) });
    expect(continued.status).toBe(303);
    expect(continued.location).toBe(`/reset/${token}`);
    expect((await laptop.get(`/reset/${token}`)).body).toContain('newPassword');

    // A weak password: every broken rule at once.
    const form = await browser.get(`/reset/${token}`);
    const csrf = csrfFrom(form.body);
    const weak = await browser.post(`/reset/${token}`, { newPassword: alice.username, confirmPassword: alice.username, _csrf: csrf });
    expect(weak.status).toBe(422);
    expect(weak.body).toContain('Use at least 15 characters');
    expect(weak.body).toContain('Do not include your username.');
    const weak2 = await browser.post(`/reset/${token}`, { newPassword: 'password', confirmPassword: 'Password', _csrf: csrf }, { json: true });
    expect(weak2.json<{ failures: { rule: string }[] }>().failures.map((f) => f.rule)).toEqual(['confirmation', 'min-length', 'common-password']);
    const caseChanged = 'wINTER2019 WAS cold!';
    const same = await browser.post(`/reset/${token}`, { newPassword: caseChanged, confirmPassword: caseChanged, _csrf: csrf });
    expect(same.body).toContain('differs from your current one');

    const done = await browser.post(`/reset/${token}`, { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, _csrf: csrf });
    expect(done.status).toBe(303);
    expect(done.location).toBe('/login?notice=password-changed');
    expect(browser.cookies.has('ro_session')).toBe(false);
    expect((await browser.get('/login?notice=password-changed')).body).toContain('Your password was changed');

    // Old password refused, new one accepted, everything recorded.
    expect((await new Browser(t.baseUrl).login(alice.username, alice.password)).status).toBe(401);
    const fresh = new Browser(t.baseUrl);
    const relogin = await fresh.login(alice.username, NEW_PASSWORD);
    expect(relogin.location).toBe('/account');
    expect((await fresh.get('/account')).body).toContain(alice.username);

    const account = await t.prisma.account.findUniqueOrThrow({ where: { id: alice.id } });
    expect(account).toMatchObject({ mustReset: false, mustResetCampaignId: null, passwordExpired: false });
    expect(account.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await t.prisma.passwordHistory.count({ where: { accountId: alice.id } })).toBe(1);
    const progress = t.get(CampaignProgressService);
    expect((await progressRow()).state).toBe('completed');
    expect((await progressRow()).completedAt).toBeInstanceOf(Date);
    expect((await progress.counts(campaignId)).completed).toBeGreaterThanOrEqual(1);
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
    expect(await t.prisma.auditEntry.count({ where: { action: 'account.password.reset', campaignId } })).toBe(1);

    // The token is refused the second time, and the other device's session is gone.
    expect((await browser.get(`/reset/${token}`)).status).toBe(410);
    expect((await laptop.get(`/reset/${token}`)).status).toBe(410);
    expect((await laptop.get('/pre-reset')).location).toBe('/login');
    expect(await t.prisma.session.count({ where: { accountId: alice.id, revokedAt: null } })).toBe(1); // only the fresh sign-in

    await sink.waitFor(() => mailTo(sink, alice.email, CHANGED_SUBJECT).length === 1);
    const changed = mailTo(sink, alice.email, CHANGED_SUBJECT)[0];
    expect(mailTo(sink, alice.email, LINK_SUBJECT)).toHaveLength(1);
    expect(changed.parsed.text).toContain('contact the security team');
    expect(changed.raw).not.toMatch(/https?:\/\//);
  });

  it('answers malformed, unknown and expired links exactly alike', async () => {
    const bob = await seedAccount(t, { password: 'bobs old password 1' });
    await flagAccounts(t, campaignId, [bob.id]);
    const expired = 'E'.repeat(43);
    const { sha256Hex } = await import('../../src/common/tokens.js');
    await t.prisma.resetToken.create({ data: { tokenHash: sha256Hex(expired), accountId: bob.id, expiresAt: new Date(Date.now() - 1000) } });
    const browser = new Browser(t.baseUrl);
    const replies = await Promise.all(
      ['abc', encodeURIComponent("' OR 1=1 --"), 'x'.repeat(43), 'A'.repeat(44), expired, '%00'].map((token) => browser.get(`/reset/${token}`)),
    );
    for (const reply of replies) {
      expect(reply.status).toBe(410);
      expect(reply.body).toBe(replies[0].body);
    }
  });

  it('tells an account without a verified email to contact the help desk and sends nothing', async () => {
    const carol = await seedAccount(t, { password: 'carols old password', verified: false });
    await flagAccounts(t, campaignId, [carol.id]);
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(carol.username, carol.password)).location).toBe('/pre-reset');
    const page = await browser.get('/pre-reset');
    expect(page.body).toContain('contact the help desk');
    expect(page.body).not.toContain('send-link');
    const refused = await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) });
    expect(refused.status).toBe(409);
    expect(await t.prisma.resetToken.count({ where: { accountId: carol.id } })).toBe(0);
    expect(mailTo(sink, carol.email, LINK_SUBJECT)).toHaveLength(0);
  });

  it('sends a temporary-password account straight to the change page', async () => {
    const dave = await seedAccount(t, { password: 'TEMP-PASS-4711', passwordExpired: true });
    await flagAccounts(t, campaignId, [dave.id]);
    const browser = new Browser(t.baseUrl);
    const login = await browser.login(dave.username, dave.password);
    expect(login.location).toBe('/password/change');
    expect((await browser.get('/pre-reset')).location).toBe('/password/change');
    expect((await browser.get('/account')).location).toBe('/password/change');
    const form = await browser.get('/password/change');
    expect(form.body).toContain('temporary password');
    const csrf = csrfFrom(form.body);
    const weak = await browser.post('/password/change', { newPassword: 'short', confirmPassword: 'short', _csrf: csrf });
    expect(weak.status).toBe(422);
    const done = await browser.post('/password/change', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, _csrf: csrf });
    expect(done.location).toBe('/login?notice=password-changed');
    const account = await t.prisma.account.findUniqueOrThrow({ where: { id: dave.id } });
    expect(account).toMatchObject({ passwordExpired: false, mustReset: false });
    expect((await new Browser(t.baseUrl).login(dave.username, NEW_PASSWORD)).location).toBe('/account');
    await sink.waitFor(() => mailTo(sink, dave.email, CHANGED_SUBJECT).length === 1);
    expect(mailTo(sink, dave.email, LINK_SUBJECT)).toHaveLength(0);
  });

  it('gives a normal account a full session with a new id at every login, and logs out', async () => {
    const erin = await seedAccount(t, { password: 'erins fine password' });
    const browser = new Browser(t.baseUrl);
    expect((await browser.post('/login', { username: erin.username, password: erin.password })).status).toBe(403);
    expect((await browser.login(erin.username, erin.password)).location).toBe('/account');
    const first = browser.cookies.get('ro_session');
    expect((await browser.login(erin.username, erin.password)).location).toBe('/account');
    expect(browser.cookies.get('ro_session')).not.toBe(first);
    const stale = new Browser(t.baseUrl);
    stale.cookies.set('ro_session', first!);
    expect((await stale.get('/account')).location).toBe('/login');
    expect((await browser.get('/pre-reset')).location).toBe('/account');
    const account = await browser.get('/account');
    expect(account.status).toBe(200);
    expect((await browser.post('/logout', {})).status).toBe(403);
    const out = await browser.post('/logout', { _csrf: csrfFrom(account.body) });
    expect(out.location).toBe('/login?notice=signed-out');
    expect((await browser.get('/account')).location).toBe('/login');
  });

  it('makes an expired password choose a new one, but a flagged account still goes through the mailbox', async () => {
    const fred = await seedAccount(t, { password: 'freds aging password' });
    const gwen = await seedAccount(t, { password: 'gwens aging password' });
    await t.prisma.account.updateMany({ where: { id: { in: [fred.id, gwen.id] } }, data: { passwordChangedAt: new Date(Date.now() - 40 * 86_400_000) } });
    await flagAccounts(t, campaignId, [gwen.id]);
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(fred.username, fred.password)).location).toBe('/password/change');
    expect((await browser.get('/password/change')).body).toContain('Your password has expired');
    expect((await new Browser(t.baseUrl).login(gwen.username, gwen.password)).location).toBe('/pre-reset');
  });
});

describe('a new password from a data breach (PASSWORD_PWNED_DIR)', () => {
  let t: TestApp;
  const BREACHED = 'correct horse battery staple';

  beforeAll(async () => {
    // One range file in the range API's format, holding this password's SHA-1 suffix and a neighbour.
    const dir = await mkdtemp(path.join(tmpdir(), 'ro-pwned-'));
    const hash = createHash('sha1').update(BREACHED).digest('hex').toUpperCase();
    await writeFile(path.join(dir, `${hash.slice(0, 5)}.txt`), `${'A'.repeat(35)}:2\r\n${hash.slice(5)}:3645\r\n`);
    t = await createTestApp({ PASSWORD_PWNED_DIR: dir });
  });
  afterAll(() => t?.close());

  it('is refused with the reason on the change page, and a fresh one is accepted', async () => {
    const fay = await seedAccount(t, { password: 'TEMP-PASS-4712-X', passwordExpired: true });
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(fay.username, fay.password)).location).toBe('/password/change');
    const csrf = csrfFrom((await browser.get('/password/change')).body);
    const breached = await browser.post('/password/change', { newPassword: BREACHED, confirmPassword: BREACHED, _csrf: csrf });
    expect(breached.status).toBe(422);
    expect(breached.body).toContain('This password has appeared in a data breach');
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: fay.id } })).passwordExpired).toBe(true);
    const done = await browser.post('/password/change', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, _csrf: csrf });
    expect(done.location).toBe('/login?notice=password-changed');
  });
});
