import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify as argon2Verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignFlaggingService } from '../../src/campaigns/campaign-flagging.service.js';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { ApplicationsService } from '../../src/integrations/applications/applications.service.js';
import { WebhookDeliveriesService } from '../../src/integrations/webhooks/webhook-deliveries.service.js';
import { PasswordChangeService } from '../../src/passwords/password-change.service.js';
import { createCampaign } from '../support/auth-flow.js';
import { type ConnectedApp, WebhookReceiver, connectApplication, gateAccount } from '../support/gate.js';
import { until } from '../support/until.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ORIGIN = 'https://portal.example.org';
const NEW_PASSWORD = 'fresh passphrase for the write back';

describe('webhooks to connected applications', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let portal: ConnectedApp;

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    // 50 ms doubling until the delays add up to 1 s: five attempts.
    t = await createTestApp({ WEBHOOK_RETRY_DELAY_MS: '50', WEBHOOK_MAX_AGE: '1s', CAMPAIGN_SWEEP_INTERVAL: '1s' });
    portal = await connectApplication(t, { name: 'portal', returnOrigins: [ORIGIN], webhookUrl: receiver.url, hashFormat: 'bcrypt' });
    receiver.secrets = [portal.secret];
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  async function flag(accountIds: number[], usernames: string[]) {
    const campaign = await createCampaign(t);
    await t.prisma.campaignScopeUsername.createMany({ data: usernames.map((username) => ({ campaignId: campaign.id, username })) });
    await t.get(CampaignFlaggingService).flagRemaining(campaign.id);
    expect(await t.prisma.campaignAccount.count({ where: { campaignId: campaign.id, accountId: { in: accountIds } } })).toBe(accountIds.length);
    return campaign;
  }

  const reset = (accountId: number, password = NEW_PASSWORD) =>
    t.get(PasswordChangeService).setPassword({ accountId, password, actor: 'user:test', action: 'account.password.reset' });

  it('sends account.flagged, then account.password_reset with a bcrypt hash of the new password, never the password', async () => {
    const ann = await gateAccount(t, portal, { externalId: 'ext-ann' });
    const campaign = await flag([ann.id], [ann.username]);
    await receiver.waitFor(() => receiver.events('account.flagged').some((e) => e.data.username === ann.username));
    const flagged = receiver.events('account.flagged').find((e) => e.data.username === ann.username)!;
    expect(flagged.data).toEqual({ username: ann.username, externalId: 'ext-ann', sequence: 1, campaignId: campaign.id });

    await reset(ann.id);
    await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === ann.username));
    const event = receiver.events('account.password_reset').find((e) => e.data.username === ann.username)!;
    expect(event.data.sequence).toBe(2);
    expect(event.data.externalId).toBe('ext-ann');
    expect(event.data.hashFormat).toBe('bcrypt');
    expect(String(event.data.passwordHash)).toMatch(/^\$2b\$12\$[./A-Za-z0-9]{53}$/);
    expect(await bcrypt.compare(NEW_PASSWORD, String(event.data.passwordHash))).toBe(true);
    expect(JSON.stringify(event.data)).not.toContain(NEW_PASSWORD);

    const row = await t.prisma.webhookDelivery.findUniqueOrThrow({ where: { webhookId: event.webhookId } });
    expect(row.status).toBe('delivered');
    expect(row.attempts).toBe(1);
    expect(row.lastStatus).toBe(200);
    // Delivered: the credential hash is no longer kept.
    expect(JSON.stringify(row.payload)).not.toContain('$2b$');
    // The application holds the password; this product still keeps no sign-in of its own for the account.
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: ann.id } })).passwordHash).toBeNull();
    expect(await t.prisma.passwordHistory.count({ where: { accountId: ann.id } })).toBe(1);
  });

  it('hashes with argon2id for an application registered that way', async () => {
    const hr = await connectApplication(t, { name: 'hr', returnOrigins: [ORIGIN], webhookUrl: receiver.url, hashFormat: 'argon2id' });
    receiver.secrets = [portal.secret, hr.secret];
    const bo = await gateAccount(t, hr, { externalId: 'ext-bo' });
    await reset(bo.id);
    await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === bo.username));
    const hash = String(receiver.events('account.password_reset').find((e) => e.data.username === bo.username)!.data.passwordHash);
    expect(hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(await argon2Verify(hash, NEW_PASSWORD)).toBe(true);
  });

  it('retries a receiver that fails three times with the same webhook-id; the event is applied once', async () => {
    const cy = await gateAccount(t, portal, { externalId: 'ext-cy' });
    receiver.failFor.set(cy.username, 3);
    await reset(cy.id);
    await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === cy.username));
    const event = receiver.events('account.password_reset').find((e) => e.data.username === cy.username)!;
    const attempts = receiver.attempts.filter((a) => a.webhookId === event.webhookId);
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 200]);
    expect(receiver.events().filter((e) => e.webhookId === event.webhookId)).toHaveLength(1);
    await until(async () => (await t.prisma.webhookDelivery.findUniqueOrThrow({ where: { webhookId: event.webhookId } })).status !== 'pending', Boolean);
    const row = await t.prisma.webhookDelivery.findUniqueOrThrow({ where: { webhookId: event.webhookId } });
    expect({ status: row.status, attempts: row.attempts, lastStatus: row.lastStatus }).toEqual({ status: 'delivered', attempts: 4, lastStatus: 200 });
  });

  it('marks a delivery failed after its last attempt, lists it, and redelivers it with the same webhook-id', async () => {
    const di = await gateAccount(t, portal, { externalId: 'ext-di' });
    receiver.failFor.set(di.username, 5);
    await reset(di.id);
    const deliveries = t.get(WebhookDeliveriesService);
    let failed: Awaited<ReturnType<WebhookDeliveriesService['list']>> = [];
    await until(async () => (failed = await deliveries.list('portal', true)).some((d) => d.accountId === di.id && d.status === 'failed'), Boolean);
    const row = failed.find((d) => d.accountId === di.id)!;
    expect({ status: row.status, attempts: row.attempts, lastStatus: row.lastStatus, lastReply: row.lastReply }).toEqual({
      status: 'failed',
      attempts: 5,
      lastStatus: 503,
      lastReply: 'not now',
    });
    const stats = (await deliveries.stats()).find((s) => s.application === 'portal')!;
    expect(stats.failing).toBeGreaterThanOrEqual(1);

    await deliveries.redeliver(row.id, 'test');
    await receiver.waitFor(() => receiver.applied.has(row.webhookId));
    expect(receiver.attempts.filter((a) => a.webhookId === row.webhookId).map((a) => a.status)).toEqual([503, 503, 503, 503, 503, 200]);
    await until(async () => (await t.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: row.id } })).status === 'delivered', Boolean);
  });

  it('signs with both secrets during a rotation, then with the new one only', async () => {
    const oldSecret = portal.secret;
    const { secret: newSecret } = await t.get(ApplicationsService).rotateSecret('portal', 'test');
    receiver.secrets = [oldSecret, newSecret];
    const ed = await gateAccount(t, portal, { externalId: 'ext-ed' });
    await reset(ed.id);
    await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === ed.username));
    expect(receiver.events('account.password_reset').find((e) => e.data.username === ed.username)!.verifiedWith).toEqual([0, 1]);

    await t.prisma.application.update({ where: { name: 'portal' }, data: { previousSecretUntil: new Date(Date.now() - 1000) } });
    const fay = await gateAccount(t, portal, { externalId: 'ext-fay' });
    await reset(fay.id);
    await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === fay.username));
    expect(receiver.events('account.password_reset').find((e) => e.data.username === fay.username)!.verifiedWith).toEqual([1]);
    expect(receiver.rejected).toEqual([]);
    portal.secret = newSecret;
  });

  it('sends account.unflagged when a campaign is cancelled with clear, and campaign.completed when one completes', async () => {
    const gus = await gateAccount(t, portal, { externalId: 'ext-gus' });
    const cancelled = await flag([gus.id], [gus.username]);
    await t.get(CampaignsService).cancel(cancelled.id, true, 'test');
    await receiver.waitFor(() => receiver.events('account.unflagged').some((e) => e.data.username === gus.username));
    const unflagged = receiver.events('account.unflagged').find((e) => e.data.username === gus.username)!;
    expect(unflagged.data).toEqual({ username: gus.username, externalId: 'ext-gus', sequence: 2, campaignId: cancelled.id });

    const hal = await gateAccount(t, portal, { externalId: 'ext-hal' });
    const finished = await flag([hal.id], [hal.username]);
    await reset(hal.id);
    await receiver.waitFor(() => receiver.events('campaign.completed').some((e) => e.data.campaignId === finished.id));
    expect(receiver.events('campaign.completed').filter((e) => e.data.campaignId === finished.id)).toHaveLength(1);
  });

  it('keeps delivering to one application while another\'s receiver never answers, and the reset does not wait for it', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = http.createServer(() => undefined);
    silent.on('connection', (s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const stuck = await connectApplication(t, {
        name: 'stuck',
        returnOrigins: [ORIGIN],
        webhookUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hooks`,
      });
      const stuckAccounts = await Promise.all(Array.from({ length: 8 }, (_, i) => gateAccount(t, stuck, { externalId: `stuck-${i}` })));
      for (const account of stuckAccounts) await reset(account.id);
      const ivy = await gateAccount(t, portal, { externalId: 'ext-ivy' });
      await reset(ivy.id);
      await receiver.waitFor(() => receiver.events('account.password_reset').some((e) => e.data.username === ivy.username));
      // Nothing reached the silent receiver; whatever was tried there waited out the 10 s timeout, not the others.
      const stuckRows = await t.prisma.webhookDelivery.findMany({ where: { applicationId: stuck.id } });
      expect(stuckRows).toHaveLength(8);
      expect(stuckRows.filter((r) => r.status === 'delivered')).toEqual([]);
      for (const row of stuckRows.filter((r) => r.attempts > 0)) expect(row.lastReply).toBe('no answer within 10s');

      const dashboard = await fetch(`${t.baseUrl}/dashboard`, { headers: { authorization: `Bearer ${await t.operatorToken('manager')}`, accept: 'text/html' } });
      const html = await dashboard.text();
      expect(html).toContain('Write-back to applications');
      // stuck: 0 delivered, and all 8 resets changed here but not yet written back.
      expect(html).toMatch(/<tr( class="alert")?><td>stuck<\/td><td class="num">0<\/td><td class="num">\d<\/td><td class="num">\d<\/td><td>[^<]+UTC<\/td><td class="num">8<\/td><\/tr>/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
