import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, LINK_SUBJECT, mailTo, createCampaign, csrfFrom, flagAccounts, resetTokenFrom, seedAccount } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('one reset token under concurrent use', () => {
  let t: TestApp;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, PASSWORD_HISTORY: '1' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('gives exactly one success for 50 simultaneous posts', async () => {
    const campaign = await createCampaign(t);
    const gina = await seedAccount(t, { password: 'ginas old password' });
    await flagAccounts(t, campaign.id, [gina.id]);
    const browser = new Browser(t.baseUrl);
    await browser.login(gina.username, gina.password);
    await browser.post('/pre-reset/send-link', { _csrf: csrfFrom((await browser.get('/pre-reset')).body) });
    await sink.waitFor(() => mailTo(sink, gina.email, LINK_SUBJECT).length === 1);
    const token = resetTokenFrom(mailTo(sink, gina.email, LINK_SUBJECT)[0]);
    const csrf = csrfFrom((await browser.get(`/reset/${token}`)).body);

    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const password = `concurrent attempt number ${i} wins`;
        return browser.post(`/reset/${token}`, { newPassword: password, confirmPassword: password, _csrf: csrf });
      }),
    );
    const successes = replies.filter((r) => r.status === 303 && r.location === '/login?notice=password-changed');
    expect(successes).toHaveLength(1);
    for (const reply of replies) if (reply !== successes[0]) expect([401, 410]).toContain(reply.status);

    const row = await t.prisma.resetToken.findFirstOrThrow({ where: { accountId: gina.id } });
    expect(row.usedAt).toBeInstanceOf(Date);
    expect(await t.prisma.auditEntry.count({ where: { action: 'account.password.reset' } })).toBe(1);
    expect((await t.prisma.campaignStateCount.findUniqueOrThrow({ where: { campaignId_state: { campaignId: campaign.id, state: 'completed' } } })).count).toBe(1);
    const winner = replies.indexOf(successes[0]);
    expect((await new Browser(t.baseUrl).login(gina.username, `concurrent attempt number ${winner} wins`)).location).toBe('/account');
    expect(await t.prisma.passwordHistory.count({ where: { accountId: gina.id } })).toBe(1);
  });
});
