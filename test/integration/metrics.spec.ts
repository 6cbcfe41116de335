import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationEventsService } from '../../src/application-events/application-events.service.js';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { Browser, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom, seedAccount } from '../support/auth-flow.js';
import { WebhookReceiver, connectApplication, gateAccount, gateSignIn } from '../support/gate.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/** The fixture: 20 accounts in an "all" campaign, and what each should come to. */
const DELIVERED = 13; // plus alice, who signs in later: 14 notices accepted
const REFUSED_5XX = 2; // 550 at RCPT: failed at once
const REFUSED_4XX = 2; // 451 at RCPT on both attempts (NOTICE_MAX_ATTEMPTS=2): one deferral, then failed
const UNVERIFIED = 2; // never sent: no verified email

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels`; 0 when there are none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('/metrics', () => {
  let t: TestApp;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    sink.behaviour = (rcpt) =>
      rcpt.startsWith('m5xx') ? { code: 550, message: 'No such mailbox' } : rcpt.startsWith('m4xx') ? { code: 451, message: 'Try again later' } : undefined;
    t = await createTestApp({
      SMTP_URL: sink.url,
      CAMPAIGN_SWEEP_INTERVAL: '1s',
      NOTICE_MAX_ATTEMPTS: '2',
      NOTICE_RETRY_DELAY_MS: '10',
      LOGIN_FAILURES_PER_ACCOUNT: '2',
      WEBHOOK_RETRY_DELAY_MS: '50',
    });
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  const scrape = async () => parse(await (await fetch(`${t.baseUrl}/metrics`)).text());
  const stateCount = (campaignId: number, state: 'flagged' | 'notice_sent' | 'notice_failed') =>
    t.prisma.campaignAccount.count({ where: { campaignId, state } });

  it("counts a campaign's notices, sign-ins, links, resets and audit entries as the database records them", async () => {
    await t.prisma.$executeRawUnsafe(`
      INSERT INTO accounts (username, email, email_verified)
      SELECT 'ok' || i, 'ok' || i || '@example.org', true FROM generate_series(1, ${DELIVERED}) i
      UNION ALL SELECT 'f5' || i, 'm5xx' || i || '@example.org', true FROM generate_series(1, ${REFUSED_5XX}) i
      UNION ALL SELECT 'f4' || i, 'm4xx' || i || '@example.org', true FROM generate_series(1, ${REFUSED_4XX}) i
      UNION ALL SELECT 'nv' || i, 'nv' || i || '@example.org', false FROM generate_series(1, ${UNVERIFIED}) i`);
    const alice = await seedAccount(t, { password: 'Winter2019 was cold!' });
    const campaigns = t.get(CampaignsService);
    const { campaign } = await campaigns.create({ name: 'Metrics', incidentRef: 'INC-M', reason: 'Test.', scope: 'all', noticeRate: 5 }, 'test');
    const id = String(campaign.id);
    // The accounts without a password here are the gap this test counts on: launched with the gaps accepted.
    await campaigns.launch(campaign.id, 'test', { acceptGaps: true });

    // During the campaign: paused part-way, the backlog gauges read the database and the queue.
    await until(async () => (await stateCount(campaign.id, 'notice_sent')) >= 3, Boolean);
    await campaigns.pause(campaign.id, 'test');
    await new Promise((r) => setTimeout(r, 1000)); // sends already past their lock finish
    const paused = await scrape();
    const flagged = await stateCount(campaign.id, 'flagged');
    expect(flagged).toBeGreaterThan(0);
    expect(value(paused, 'reset_notices_queued', { campaign_id: id, status: 'paused' })).toBe(flagged);
    expect(value(paused, 'reset_notice_jobs_waiting', { campaign_id: id })).toBeLessThanOrEqual(flagged);
    expect(value(paused, 'reset_notices_total', { campaign_id: id, result: 'sent' })).toBe(await stateCount(campaign.id, 'notice_sent'));

    await campaigns.resume(campaign.id, 'test');
    await until(async () => (await stateCount(campaign.id, 'flagged')) === 0, Boolean);

    // Sign-ins: two failures then a refusal for one name, a failure and a pre-reset sign-in for alice, a normal one and
    // an expired password for two accounts outside the campaign.
    const carol = await seedAccount(t, { password: 'carol password 2024 ok' });
    const erin = await seedAccount(t, { password: 'erin password 2024 ok', passwordExpired: true });
    const browser = new Browser(t.baseUrl);
    expect((await browser.login('dave-unknown', 'nope nope nope')).status).toBe(401);
    expect((await browser.login('dave-unknown', 'nope nope nope')).status).toBe(401);
    expect((await browser.login('dave-unknown', 'nope nope nope')).status).toBe(429);
    expect((await browser.login(alice.username, 'not her password')).status).toBe(401);
    expect((await new Browser(t.baseUrl).login(carol.username, carol.password)).location).toBe('/account');
    expect((await new Browser(t.baseUrl).login(erin.username, erin.password)).status).toBe(303);
    expect((await browser.login(alice.username, alice.password)).location).toBe('/pre-reset');

    // alice asks for a link and resets her password.
    const page = await browser.get('/pre-reset');
    expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, alice.email, LINK_SUBJECT).length === 1);
    const token = resetTokenFrom(mailTo(sink, alice.email, LINK_SUBJECT)[0]);
    const form = await browser.get(`/reset/${token}`);
    const password = 'violet tractor mends the quiet harbour';
    const done = await browser.post(`/reset/${token}`, { newPassword: password, confirmPassword: password, _csrf: csrfFrom(form.body) });
    expect(done.location).toBe('/login?notice=password-changed');

    const after = await scrape();
    const notices = (result: string, replyClass: string) => value(after, 'reset_notices_total', { campaign_id: id, result, reply_class: replyClass });
    // alice has moved on from notice_sent (pre_reset, link_sent, completed): her row keeps its send time.
    expect(await t.prisma.campaignAccount.count({ where: { campaignId: campaign.id, noticeSentAt: { not: null } } })).toBe(DELIVERED + 1);
    expect(notices('sent', '2xx')).toBe(DELIVERED + 1);
    expect(await stateCount(campaign.id, 'notice_failed')).toBe(REFUSED_5XX + REFUSED_4XX + UNVERIFIED);
    expect(notices('failed', '5xx')).toBe(REFUSED_5XX);
    expect(notices('failed', '4xx')).toBe(REFUSED_4XX);
    expect(notices('deferred', '4xx')).toBe(REFUSED_4XX);
    expect(notices('failed', 'no_verified_email')).toBe(UNVERIFIED);
    expect(value(after, 'reset_notices_total', { result: 'failed', reply_class: 'link_check' })).toBe(0);
    // Every SMTP conversation timed: 14 accepted, 2 refused with 550, 2 × 2 refused with 451.
    expect(value(after, 'reset_notice_send_duration_seconds_count')).toBe(DELIVERED + 1 + REFUSED_5XX + 2 * REFUSED_4XX);
    expect(value(after, 'reset_notice_pacer_wait_seconds_count')).toBe(DELIVERED + 1 + REFUSED_5XX + 2 * REFUSED_4XX);

    expect(value(after, 'reset_sign_ins_total', { outcome: 'failed' })).toBe(3);
    expect(value(after, 'reset_sign_ins_total', { outcome: 'limited' })).toBe(1);
    expect(value(after, 'reset_sign_ins_total', { outcome: 'normal' })).toBe(1);
    expect(value(after, 'reset_sign_ins_total', { outcome: 'password_change' })).toBe(1);
    expect(value(after, 'reset_sign_ins_total', { outcome: 'pre_reset' })).toBe(1);
    expect(value(after, 'reset_links_mailed_total')).toBe(1);
    expect(value(after, 'reset_resets_completed_total', { campaign_id: id })).toBe(1);
    expect(await t.prisma.campaignAccount.count({ where: { campaignId: campaign.id, state: 'completed' } })).toBe(1);
    const auditEntries = await t.prisma.auditEntry.count();
    expect(auditEntries).toBeGreaterThanOrEqual(5); // create, launch, pause, resume, link, reset at least
    expect(value(after, 'reset_audit_appends_total')).toBe(auditEntries);
    // No label carries a username or an address.
    expect(after.some((s) => Object.values(s.labels).some((v) => /@|alice|dave|user\d/.test(v)))).toBe(false);
  });

  it('counts gate decisions and webhook deliveries, and reports the pending backlog per application', async () => {
    const up = await new WebhookReceiver().start();
    const down = await new WebhookReceiver().start();
    try {
      const portal = await connectApplication(t, { name: 'metrics-portal', returnOrigins: ['https://portal.example.org'], webhookUrl: up.url });
      const stalled = await connectApplication(t, { name: 'metrics-stalled', returnOrigins: ['https://portal.example.org'], webhookUrl: down.url });
      up.secrets = [portal.secret];
      down.secrets = [stalled.secret];
      down.down = true;

      // Gate: two continue (unknown, fine), one pre_reset (flagged), one password_change (temporary password).
      const campaign = await createCampaign(t);
      const fine = await gateAccount(t, portal);
      const flagged = await gateAccount(t, portal);
      const temporary = await gateAccount(t, portal);
      await flagAccounts(t, campaign.id, [flagged.id]);
      await t.prisma.account.update({ where: { id: temporary.id }, data: { passwordExpired: true } });
      for (const username of ['nobody-at-all', fine.username, flagged.username, temporary.username]) {
        expect((await gateSignIn(t.baseUrl, portal.key, { username })).status).toBe(200);
      }

      // Webhooks: two events to the portal (the first answered 503 once), one to an application that does not answer.
      up.failFor.set(flagged.username, 1);
      const other = await gateAccount(t, stalled);
      const events = t.get(ApplicationEventsService);
      await t.prisma.$transaction((tx) => events.recordForAccounts(tx, 'account.flagged', Prisma.sql`SELECT unnest(${[flagged.id, fine.id, other.id]}::int[])`, campaign.id));
      await events.dispatch();
      await until(async () => up.applied.size === 2 && down.attempts.length >= 2, Boolean);

      const samples = await scrape();
      expect(value(samples, 'reset_gate_decisions_total', { decision: 'continue' })).toBe(2);
      expect(value(samples, 'reset_gate_decisions_total', { decision: 'pre_reset' })).toBe(1);
      expect(value(samples, 'reset_gate_decisions_total', { decision: 'password_change' })).toBe(1);
      expect(value(samples, 'reset_webhook_deliveries_total', { result: 'delivered' })).toBe(2);
      const refused = up.attempts.filter((a) => a.status === 503).length + down.attempts.length;
      expect(refused).toBeGreaterThanOrEqual(3);
      // Attempts are counted when they end; the one to the stalled receiver may still be under way at the scrape.
      expect(value(samples, 'reset_webhook_deliveries_total', { result: 'retrying' })).toBeGreaterThanOrEqual(refused - 1);
      expect(value(samples, 'reset_webhook_deliveries_total', { result: 'retrying' })).toBeLessThanOrEqual(refused);
      expect(value(samples, 'reset_webhook_deliveries_total', { result: 'failed' })).toBe(0);
      expect(value(samples, 'reset_webhook_deliveries_pending', { application: 'metrics-stalled' })).toBe(1);
      expect(value(samples, 'reset_webhook_deliveries_pending', { application: 'metrics-portal' })).toBe(0);
      expect(value(samples, 'reset_webhook_oldest_pending_seconds', { application: 'metrics-stalled' })).toBeGreaterThan(0);
      expect(value(samples, 'reset_webhook_oldest_pending_seconds', { application: 'metrics-portal' })).toBe(0);
      expect(samples.some((s) => Object.values(s.labels).some((v) => /@|user\d/.test(v)))).toBe(false);
    } finally {
      await up.stop();
      await down.stop();
    }
  });
});
