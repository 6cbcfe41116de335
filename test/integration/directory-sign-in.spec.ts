import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsService } from '../../src/secrets/secrets.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { Browser, CHANGED_SUBJECT, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom } from '../support/auth-flow.js';
import { Slapd, directoryEnv, personDn } from '../support/slapd.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// The test directory's ppolicy wants 20 characters; this product's own policy fewer.
const OLD = { alice: 'breached directory pass one', bob: 'breached directory pass two', carol: 'directory password three!', dave: 'directory password four!!' };
const ALICE_NEW = 'violet tractor mends the quiet harbour';
const BOB_NEW = 'amber lantern over the sleeping city';
const SEVENTEEN_CHARS = 'Quartz Ferry Owl7';

describe('directory accounts: sign-in by bind, the reset written to the directory', () => {
  let slapd: Slapd;
  let sink: SmtpSink;
  let t: TestApp;
  let campaignId: number;

  beforeAll(async () => {
    slapd = await Slapd.create(Object.entries(OLD).map(([uid, password]) => ({ uid, password, mail: `${uid}@example.org`, cn: uid })));
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, PUBLIC_URL: 'http://reset.test', ...(await directoryEnv(slapd)) });
    campaignId = (await createCampaign(t)).id;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
    await slapd?.destroy();
  });

  const account = (uid: string) =>
    t.prisma.account.create({ data: { username: uid, email: `${uid}@example.org`, emailVerified: true, directoryDn: personDn(uid) } });
  const progressState = async (accountId: number) =>
    (await t.prisma.campaignAccount.findUniqueOrThrow({ where: { campaignId_accountId: { campaignId, accountId } } })).state;

  /** Signs in, asks for the link and returns the token from the mail. */
  async function linkFor(browser: Browser, uid: keyof typeof OLD): Promise<string> {
    const login = await browser.login(uid, OLD[uid]);
    expect(login.location).toBe('/pre-reset');
    const page = await browser.get('/pre-reset');
    expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, `${uid}@example.org`, LINK_SUBJECT).length === 1);
    return resetTokenFrom(mailTo(sink, `${uid}@example.org`, LINK_SUBJECT)[0]);
  }

  it('signs a flagged user in with the directory password, refuses what the directory refuses, then sets the new one there', async () => {
    const alice = await account('alice');
    await flagAccounts(t, campaignId, [alice.id]);
    const browser = new Browser(t.baseUrl, '10.1.0.1');

    const unknown = await new Browser(t.baseUrl, '10.1.0.2').login('nobody-here', 'whatever password');
    const wrong = await new Browser(t.baseUrl, '10.1.0.3').login('alice', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.body.replace(/value="[^"]*"/g, '')).toBe(unknown.body.replace(/value="[^"]*"/g, ''));

    const token = await linkFor(browser, 'alice');
    const form = await browser.get(`/reset/${token}`);
    expect(form.status).toBe(200);
    const csrf = csrfFrom(form.body);
    const submit = (password: string) => browser.post(`/reset/${token}`, { newPassword: password, confirmPassword: password, _csrf: csrf });

    // This product's policy accepts both; the directory's ppolicy does not, and says why.
    const tooShort = await submit(SEVENTEEN_CHARS);
    expect(tooShort.status).toBe(422);
    expect(tooShort.body).toContain('The directory refused this password: it is too short or too simple for the directory&#x27;s own password policy.');
    const current = await submit(OLD.alice);
    expect(current.status).toBe(422);
    expect(current.body).toContain('The directory refused this password: it is your current password.');
    expect(await slapd.canBind(personDn('alice'), OLD.alice)).toBe(true);
    expect(await t.prisma.resetToken.count({ where: { accountId: alice.id, usedAt: null, revokedAt: null } })).toBe(1);
    expect(await t.prisma.account.findUniqueOrThrow({ where: { id: alice.id } })).toMatchObject({ mustReset: true });
    expect(await progressState(alice.id)).toBe('link_sent');

    const done = await submit(ALICE_NEW);
    expect(done.status).toBe(303);
    expect(done.location).toBe('/login?notice=password-changed');
    expect(await slapd.canBind(personDn('alice'), ALICE_NEW)).toBe(true);
    expect(await slapd.canBind(personDn('alice'), OLD.alice)).toBe(false);
    // pwdMustChange makes slapd mark an administrator's change; the user chose this one, so the mark is cleared.
    const ldap = await slapd.admin();
    const [entry] = (await ldap.search(personDn('alice'), { scope: 'base', attributes: ['pwdReset'] })).searchEntries;
    await ldap.unbind();
    expect(entry.pwdReset).toEqual([]);

    const row = await t.prisma.account.findUniqueOrThrow({ where: { id: alice.id } });
    expect(row).toMatchObject({ passwordHash: null, mustReset: false, mustResetCampaignId: null, passwordExpired: false });
    expect(await t.prisma.passwordHistory.count({ where: { accountId: alice.id } })).toBe(0);
    expect(await t.prisma.resetToken.count({ where: { accountId: alice.id, usedAt: { not: null } } })).toBe(1);
    expect(await t.prisma.session.count({ where: { accountId: alice.id, revokedAt: null } })).toBe(0);
    expect(await progressState(alice.id)).toBe('completed');
    const progress = t.get(CampaignProgressService);
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
    const audit = await t.prisma.auditEntry.findFirstOrThrow({ where: { action: 'account.password.reset', campaignId } });
    expect(audit.details).toMatchObject({ accountId: alice.id, directory: true, via: 'reset-link' });
    await sink.waitFor(() => mailTo(sink, 'alice@example.org', CHANGED_SUBJECT).length === 1);

    // The new directory password signs in; the product still keeps no copy of it.
    const fresh = new Browser(t.baseUrl, '10.1.0.4');
    expect((await fresh.login('alice', ALICE_NEW)).location).toBe('/account');
    expect((await new Browser(t.baseUrl, '10.1.0.5').login('alice', OLD.alice)).status).toBe(401);
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: alice.id } })).passwordHash).toBeNull();
    expect(await t.prisma.passwordHistory.count({ where: { accountId: alice.id } })).toBe(0);
  });

  it('leaves the link usable when the directory is down during the reset, and says to try again', async () => {
    const bob = await account('bob');
    await flagAccounts(t, campaignId, [bob.id]);
    const browser = new Browser(t.baseUrl, '10.2.0.1');
    const token = await linkFor(browser, 'bob');
    const csrf = csrfFrom((await browser.get(`/reset/${token}`)).body);

    await slapd.stop();
    try {
      const down = await browser.post(`/reset/${token}`, { newPassword: BOB_NEW, confirmPassword: BOB_NEW, _csrf: csrf });
      expect(down.status).toBe(503);
      expect(down.body).toContain('does not answer right now, so nothing was changed. Try again in a few minutes; your link still works.');
      const signIn = await new Browser(t.baseUrl, '10.2.0.2').login('bob', OLD.bob);
      expect(signIn.status).toBe(503);
      expect(signIn.body).toContain('the directory does not answer. Try again in a few minutes.');
      expect(await t.prisma.resetToken.count({ where: { accountId: bob.id, usedAt: null, revokedAt: null } })).toBe(1);
      expect(await progressState(bob.id)).toBe('link_sent');
      expect(await t.prisma.auditEntry.count({ where: { action: 'account.password.reset', details: { path: ['accountId'], equals: bob.id } } })).toBe(0);
    } finally {
      await slapd.start();
    }

    const done = await browser.post(`/reset/${token}`, { newPassword: BOB_NEW, confirmPassword: BOB_NEW, _csrf: csrf });
    expect(done.status).toBe(303);
    expect(await slapd.canBind(personDn('bob'), BOB_NEW)).toBe(true);
    expect(await slapd.canBind(personDn('bob'), OLD.bob)).toBe(false);
    expect(await progressState(bob.id)).toBe('completed');
  });

  it('holds the failure limit for concurrent wrong passwords against a directory account', async () => {
    await account('carol');
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => new Browser(t.baseUrl, `10.3.0.${i}`).login('carol', `wrong guess ${i}`)));
    const more = [];
    for (let i = 0; i < 5; i++) more.push(await new Browser(t.baseUrl, `10.3.2.${i}`).login('carol', `another guess ${i}`));
    const statuses = [...burst, ...more].map((a) => a.status);
    // At most the limit of 5 binds ever reach the directory; every other attempt is refused before it.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(more.at(-1)?.status).toBe(429);
    expect((await new Browser(t.baseUrl, '10.3.1.1').login('carol', OLD.carol)).status).toBe(429);
  });

  it('sets an administrator\'s temporary password in the directory with "must change at next bind", keeping no hash', async () => {
    const dave = await account('dave');
    const issued = await t.get(SecretsService).issueTemporaryPassword('dave', { reason: 'INC-7 help desk' }, 'test');
    const path = new URL(issued.url).pathname;
    const viewer = new Browser(t.baseUrl);
    const { csrf } = (await viewer.get(path, { json: true })).json<{ csrf: string }>();
    const temporary = (await viewer.post(`${path}/reveal`, { csrf }, { json: true })).json<{ password: string }>().password;
    expect(temporary.length).toBeGreaterThanOrEqual(15);

    expect(await slapd.canBind(personDn('dave'), OLD.dave)).toBe(false);
    expect(await slapd.canBind(personDn('dave'), temporary)).toBe(true);
    const ldap = await slapd.admin();
    const [entry] = (await ldap.search(personDn('dave'), { scope: 'base', attributes: ['pwdReset'] })).searchEntries;
    await ldap.unbind();
    expect(entry.pwdReset).toBe('TRUE');
    expect(await t.prisma.account.findUniqueOrThrow({ where: { id: dave.id } })).toMatchObject({ passwordHash: null, passwordExpired: true });
    expect(await t.prisma.passwordHistory.count({ where: { accountId: dave.id } })).toBe(0);

    // Signing in with it leads to the forced change, which the directory takes and which clears pwdReset.
    const browser = new Browser(t.baseUrl, '10.4.0.1');
    expect((await browser.login('dave', temporary)).location).toBe('/password/change');
    const form = await browser.get('/password/change');
    const own = 'a long own password of my choosing';
    const changed = await browser.post('/password/change', { newPassword: own, confirmPassword: own, _csrf: csrfFrom(form.body) });
    expect(changed.status).toBe(303);
    const check = new Client({ url: slapd.url });
    await check.bind(personDn('dave'), own);
    const [self] = (await check.search(personDn('dave'), { scope: 'base', attributes: ['cn'] })).searchEntries;
    await check.unbind();
    expect(self.cn).toBe('dave');
    expect(await t.prisma.account.findUniqueOrThrow({ where: { id: dave.id } })).toMatchObject({ passwordHash: null, passwordExpired: false });
  });
});
