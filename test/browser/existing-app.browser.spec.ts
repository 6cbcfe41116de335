import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/support.js';
import { type ExistingApp, startExistingApp } from '../../examples/existing-app/existing-app.js';
import { CampaignFlaggingService } from '../../src/campaigns/campaign-flagging.service.js';
import { LINK_SUBJECT, createCampaign, mailTo, resetTokenFrom } from '../support/auth-flow.js';
import { connectApplication, gateAccount } from '../support/gate.js';
import { until } from '../support/until.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { launchChromium } from '../support/chromium.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const OLD_PASSWORD = 'graces breached password 2019';
const NEW_PASSWORD = 'tangerine lighthouse above quiet rivers';

describe('an existing application behind the gate, in a real browser', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let portalDb: TestDatabase;
  let portal: ExistingApp;
  let browser: Browser;
  let email: string;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    const [productPort, portalPort] = [await freePort(), await freePort()];
    const productUrl = `http://127.0.0.1:${productPort}`;
    const portalUrl = `http://127.0.0.1:${portalPort}`;
    t = await createTestApp({ SMTP_URL: sink.url, PUBLIC_URL: productUrl, PORT: String(productPort) });
    const registered = await connectApplication(t, { name: 'portal', returnOrigins: [portalUrl], webhookUrl: `${portalUrl}/hooks/reset`, hashFormat: 'bcrypt' });

    // The application's own database, users and bcrypt hashes; the product learns only who the users are.
    portalDb = await createTestDatabase(false);
    portal = await startExistingApp({ databaseUrl: portalDb.url, gateUrl: productUrl, appKey: registered.key, webhookSecret: registered.secret, port: portalPort });
    const graceId = await portal.addUser('grace', OLD_PASSWORD);
    email = (await gateAccount(t, registered, { username: 'grace', externalId: String(graceId) })).email;

    const campaign = await createCampaign(t);
    await t.prisma.campaignScopeUsername.create({ data: { campaignId: campaign.id, username: 'grace' } });
    await t.get(CampaignFlaggingService).flagRemaining(campaign.id);

    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    await t?.close();
    await portalDb?.drop();
    await sink?.stop();
  });

  it('takes a flagged user from the application\'s sign-in through the reset and back, and the new password works there', { timeout: 120_000 }, async () => {
    const hashBefore = (await portal.pool.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'grace'")).rows[0].password_hash;
    const context = await browser.newContext();
    const page = await context.newPage();

    await page.goto(`${portal.url}/login`);
    await page.fill('input[name=username]', 'grace');
    await page.fill('input[name=password]', OLD_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${t.config.http.publicUrl}/pre-reset`);
    expect(await page.textContent('.phrase')).toBe('amber falcon');

    await page.click('text=Email me a reset link');
    await sink.waitFor(() => mailTo(sink, email, LINK_SUBJECT).length === 1);
    const token = resetTokenFrom(mailTo(sink, email, LINK_SUBJECT)[0]);
    await page.goto(`${t.config.http.publicUrl}/reset/${token}`);
    await page.fill('#newPassword', NEW_PASSWORD);
    await page.fill('#confirmPassword', NEW_PASSWORD);
    await page.click('text=Set new password');
    await page.waitForURL(`${portal.url}/after`);
    expect(await page.textContent('h1')).toBe('Welcome back');

    // The webhook wrote the new bcrypt hash into the application's own table.
    const hashNow = async () => (await portal.pool.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'grace'")).rows[0].password_hash;
    await until(async () => (await hashNow()) !== hashBefore, Boolean);
    expect(await hashNow()).toMatch(/^\$2b\$12\$/);

    await page.goto(`${portal.url}/login`);
    await page.fill('input[name=username]', 'grace');
    await page.fill('input[name=password]', OLD_PASSWORD);
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]')).toBe('Wrong username or password.');

    await page.fill('input[name=username]', 'grace');
    await page.fill('input[name=password]', NEW_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${portal.url}/home`);
    expect(await page.textContent('h1')).toBe('Signed in as grace');
    await context.close();
  });
});
