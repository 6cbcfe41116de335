import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { QUEUES } from '../../src/queues/queue-names.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResetLinkMailService } from '../../src/notifications/user-mail/reset-link-mail.service.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { RedisService } from '../../src/redis/redis.module.js';
import { Browser, LINK_SUBJECT, mailTo, createCampaign, csrfFrom, flagAccounts, seedAccount } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('sign-in and reset-link limits', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let campaignId: number;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, LOGIN_FAILURES_PER_IP: '8', RESET_LINKS_PER_IP: '5' });
    campaignId = (await createCampaign(t)).id;
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('locks an account after 5 failures, even for the right password, and keys it in Redis under the prefix', async () => {
    const hank = await seedAccount(t, { password: 'hanks real password' });
    for (let i = 0; i < 5; i++) {
      const reply = await new Browser(t.baseUrl, `10.0.1.${i}`).login(hank.username, `wrong guess ${i}`);
      expect(reply.status).toBe(401);
    }
    const locked = await new Browser(t.baseUrl, '10.0.1.99').login(hank.username, hank.password);
    expect(locked.status).toBe(429);
    expect(locked.body).toContain('Too many failed sign-in attempts');
    const json = await new Browser(t.baseUrl, '10.0.1.98').request('POST', '/login', { json: true, form: { username: hank.username, password: hank.password } });
    expect(json.status).toBe(403); // no CSRF token: refused before anything else
    const keys = await t.get(RedisService).keys(`${t.config.redis.queuePrefix}:limit:login-name:*`);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    // An unknown username is limited the same way, so the limit reveals nothing about existence.
    for (let i = 0; i < 5; i++) await new Browser(t.baseUrl, `10.0.2.${i}`).login('no-such-user', `guess ${i}`);
    expect((await new Browser(t.baseUrl, '10.0.2.99').login('no-such-user', 'guess')).status).toBe(429);
  });

  it('limits failures per IP across accounts', async () => {
    const browser = new Browser(t.baseUrl, '10.0.3.1');
    for (let i = 0; i < 8; i++) expect((await browser.login(`someone${i}`, 'wrong')).status).toBe(401);
    const ivy = await seedAccount(t, { password: 'ivys real password' });
    const limited = await browser.login(ivy.username, ivy.password);
    expect(limited.status).toBe(429);
    expect((await new Browser(t.baseUrl, '10.0.3.2').login(ivy.username, ivy.password)).location).toBe('/account');
  });

  it('lets a browser that signed in to the account before in with the right password while its address and the account are locked', async () => {
    const lena = await seedAccount(t, { password: 'lenas real password' });
    const known = new Browser(t.baseUrl, '10.0.5.1');
    expect((await known.login(lena.username, lena.password)).location).toBe('/account');
    expect([...known.cookies.keys()]).toContain('ro_device');

    // Someone else behind the same address uses up its 8 failures, and 5 wrong passwords lock lena's account.
    const noisy = new Browser(t.baseUrl, '10.0.5.1');
    for (let i = 0; i < 8; i++) expect((await noisy.login(`someone-else${i}`, 'wrong')).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await new Browser(t.baseUrl, `10.0.5.${10 + i}`).login(lena.username, `guess ${i}`)).status).toBe(401);
    expect((await new Browser(t.baseUrl, '10.0.5.1').login(lena.username, lena.password)).status).toBe(429);
    expect((await new Browser(t.baseUrl, '10.0.5.20').login(lena.username, lena.password)).status).toBe(429);

    expect((await known.login(lena.username, lena.password)).location).toBe('/account');
    // Its success does not forgive the failures others ran up against the name.
    expect((await new Browser(t.baseUrl, '10.0.5.21').login(lena.username, lena.password)).status).toBe(429);
    // The known browser has its own failure budget (5), not a way around the limits.
    for (let i = 0; i < 5; i++) expect((await known.login(lena.username, `known guess ${i}`)).status).toBe(401);
    expect((await known.login(lena.username, lena.password)).status).toBe(429);
    // It is known for lena only: another account from it meets the used-up address limit.
    const max = await seedAccount(t, { password: 'maxs real password' });
    expect((await known.login(max.username, max.password)).status).toBe(429);
  });

  it('forgets a known browser once the password changes', async () => {
    const nina = await seedAccount(t, { password: 'ninas real password' });
    const known = new Browser(t.baseUrl, '10.0.6.1');
    expect((await known.login(nina.username, nina.password)).location).toBe('/account');
    const changed = 'ninas brand new password';
    await t.prisma.account.update({ where: { id: nina.id }, data: { passwordHash: await t.get(PasswordHasherService).hash(changed) } });
    const noisy = new Browser(t.baseUrl, '10.0.6.1');
    for (let i = 0; i < 8; i++) expect((await noisy.login(`stranger${i}`, 'wrong')).status).toBe(401);
    expect((await known.login(nina.username, changed)).status).toBe(429);
  });

  it('leaves exactly one usable link when several are issued for one account at the same moment', async () => {
    const liam = await seedAccount(t, { password: 'liams old password' });
    await flagAccounts(t, campaignId, [liam.id]);
    // As several user-mail workers would, each taking one of the account's link jobs at once.
    const links = t.get(ResetLinkMailService);
    expect(await Promise.all(Array.from({ length: 6 }, () => links.send(liam.id)))).toEqual(Array(6).fill('sent'));
    const tokens = await t.prisma.resetToken.findMany({ where: { accountId: liam.id }, orderBy: { id: 'asc' } });
    expect(tokens).toHaveLength(6);
    expect(tokens.filter((r) => r.revokedAt === null).map((r) => r.id)).toEqual([tokens[5].id]);
  });

  it('sends at most 3 links per account per window, then a per-IP limit, with a clear message', async () => {
    const jack = await seedAccount(t, { password: 'jacks old password' });
    const kate = await seedAccount(t, { password: 'kates old password' });
    await flagAccounts(t, campaignId, [jack.id, kate.id]);
    const ask = async (browser: Browser) => browser.post('/pre-reset/send-link', { _csrf: csrfFrom((await browser.get('/pre-reset')).body) });

    const jackBrowser = new Browser(t.baseUrl, '10.0.4.1');
    await jackBrowser.login(jack.username, jack.password);
    for (let i = 0; i < 3; i++) expect((await ask(jackBrowser)).status).toBe(303);
    const fourth = await ask(jackBrowser);
    expect(fourth.status).toBe(429);
    expect(fourth.body).toContain('You have already asked for 3 links in the last 15 minutes');
    await sink.waitFor(() => mailTo(sink, jack.email, LINK_SUBJECT).length === 3);

    // Only the newest link works: asking again revoked the older ones.
    const tokens = await t.prisma.resetToken.findMany({ where: { accountId: jack.id }, orderBy: { id: 'asc' } });
    expect(tokens).toHaveLength(3);
    expect(tokens.filter((r) => r.revokedAt === null)).toHaveLength(1);
    expect(tokens[2].revokedAt).toBeNull();

    // Same network, another account: 2 more fit under the per-IP limit of 5, the next is refused.
    const kateBrowser = new Browser(t.baseUrl, '10.0.4.1');
    await kateBrowser.login(kate.username, kate.password);
    for (let i = 0; i < 2; i++) expect((await ask(kateBrowser)).status).toBe(303);
    const refused = await ask(kateBrowser);
    expect(refused.status).toBe(429);
    expect(refused.body).toContain('Too many links were asked for from your network');
    await sink.waitFor(() => mailTo(sink, kate.email, LINK_SUBJECT).length === 2);
    // Refused requests queued nothing: the queue holds exactly the five accepted jobs.
    const queue = t.app.get<Queue>(getQueueToken(QUEUES.userMail));
    expect(await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed')).toBe(5);
    expect(await t.prisma.resetToken.count({ where: { accountId: { in: [jack.id, kate.id] } } })).toBe(5);
  });
});
