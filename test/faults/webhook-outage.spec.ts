import { verify as argon2Verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordChangeService } from '../../src/passwords/password-change.service.js';
import { type ConnectedApp, WebhookReceiver, connectApplication } from '../support/gate.js';
import { until } from '../support/until.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** 1,000 resets and a 60 s outage by default; smaller for a quick local look (WEBHOOK_OUTAGE_RESETS, _SECONDS). */
const RESETS = Number(process.env.WEBHOOK_OUTAGE_RESETS ?? 1000);
const OUTAGE_MS = Number(process.env.WEBHOOK_OUTAGE_SECONDS ?? 60) * 1000;
const password = (i: number) => `outage run passphrase number ${i} holds`;

describe('a webhook receiver down during a wave of resets', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let portal: ConnectedApp;

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    t = await createTestApp({ WEBHOOK_RETRY_DELAY_MS: '500', WEBHOOK_CONCURRENCY: '50', WEBHOOK_APP_CONCURRENCY: '50' });
    portal = await connectApplication(t, { name: 'portal', returnOrigins: ['https://portal.example.org'], webhookUrl: receiver.url, hashFormat: 'argon2id' });
    receiver.secrets = [portal.secret];
    await t.prisma.$executeRaw`
      INSERT INTO accounts (username, email, email_verified, application_id, external_id, updated_at)
      SELECT 'outage' || i, 'outage' || i || '@example.org', true, ${portal.id}, 'ext-' || i, now() FROM generate_series(1, ${RESETS}) AS i`;
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('delivers every event exactly once by webhook-id after the receiver returns, nothing lost', async () => {
    receiver.down = true;
    const outageStarted = Date.now();
    const accounts = await t.prisma.account.findMany({ where: { applicationId: portal.id }, select: { id: true, username: true }, orderBy: { id: 'asc' } });
    const changes = t.get(PasswordChangeService);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < accounts.length) {
          const i = next++;
          await changes.setPassword({ accountId: accounts[i].id, password: password(i), actor: 'user:test', action: 'account.password.reset' });
        }
      }),
    );
    const refusedDuringOutage = receiver.attempts.length;
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    expect(receiver.applied.size).toBe(0);
    receiver.down = false;

    await until(async () => receiver.applied.size === RESETS, Boolean, 10 * 60_000);
    await until(async () => (await t.prisma.webhookDelivery.count({ where: { status: 'delivered' } })) === RESETS, Boolean, 60_000);

    const acknowledged = new Map<string, number>();
    for (const a of receiver.attempts) if (a.status === 200) acknowledged.set(a.webhookId, (acknowledged.get(a.webhookId) ?? 0) + 1);
    expect(acknowledged.size).toBe(RESETS);
    expect([...acknowledged.values()].every((n) => n === 1)).toBe(true);
    const events = receiver.events('account.password_reset');
    expect(new Set(events.map((e) => e.data.username)).size).toBe(RESETS);
    expect(await t.prisma.webhookDelivery.count({ where: { status: { not: 'delivered' } } })).toBe(0);
    expect(receiver.rejected).toEqual([]);
    // A sample of the hashes: each is the new password of its account.
    for (const e of events.filter((_, i) => i % Math.ceil(RESETS / 20) === 0)) {
      const i = accounts.findIndex((a) => a.username === e.data.username);
      expect(await argon2Verify(String(e.data.passwordHash), password(i))).toBe(true);
    }
    console.log(JSON.stringify({ resets: RESETS, outageMs: OUTAGE_MS, refusedDuringOutage, attempts: receiver.attempts.length }));
  });
});
