import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { advance, seedCampaign } from '../integration/dashboard-fixtures.js';
import { launchChromium } from '../support/chromium.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const OUTPUT = path.resolve('test-output');

describe('dashboard in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let campaignId: number;
  let ids: number[];
  let done: number[];
  let manager: { username: string; password: string };

  beforeAll(async () => {
    t = await createTestApp();
    ({ campaignId, accountIds: ids } = await seedCampaign(t, {
      accounts: 2400,
      orgUnits: ['Finance', 'Engineering', 'Sales', 'Support', 'Legal', 'Operations'],
      name: 'Okta credential-stuffing response',
    }));
    // A demo-like history: flagged an hour ago, notices out, resets arriving fast at first and then tailing off.
    await t.prisma.$executeRawUnsafe(`UPDATE campaign_accounts SET flagged_at = now() - interval '60 minutes' WHERE campaign_id = ${campaignId}`);
    await advance(t, campaignId, ids.slice(0, 2300), 'notice_sent');
    await advance(t, campaignId, ids.slice(2300, 2340), 'notice_failed', '550 5.1.1 <user@example.org>: Recipient address rejected: User unknown');
    // Nothing left in `flagged`, so the in-process notice workers have nothing to send for this running campaign.
    await advance(t, campaignId, ids.slice(2340), 'notice_sent');
    const rate: Record<string, number> = { Finance: 0.62, Engineering: 0.55, Sales: 0.21, Support: 0.44, Legal: 0.69, Operations: 0.34 };
    const units = await t.prisma.account.findMany({ where: { id: { in: ids.slice(0, 1500) } }, select: { id: true, orgUnit: true }, orderBy: { id: 'asc' } });
    const seen: Record<string, number> = {};
    done = units.filter((a) => (seen[a.orgUnit!] = (seen[a.orgUnit!] ?? 0) + 1) <= rate[a.orgUnit!] * 400).map((a) => a.id);
    await advance(t, campaignId, done, 'completed');
    await t.prisma.$executeRawUnsafe(
      `UPDATE campaign_accounts SET completed_at = flagged_at + interval '55 minutes' * power(random(), 2) WHERE campaign_id = ${campaignId} AND state = 'completed'`,
    );
    // That history was written past CampaignProgressService: recount the dashboard's rows from it.
    await t.prisma.$transaction((tx) => t.get(CampaignProgressService).rebuildAggregates(tx, campaignId));
    await advance(t, campaignId, ids.slice(1500, 1700), 'pre_reset');
    await advance(t, campaignId, ids.slice(1500, 1600), 'link_sent');
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { reason: 'Passwords found in a third-party breach dump', status: 'running' } });
    const created = await t.get(OperatorsService).create('dana.manager', 'manager', 'test');
    manager = { username: 'dana.manager', password: created.password };
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs a manager in, updates the counts live and hides responder-only actions', { timeout: 120_000 }, async () => {
    await mkdir(OUTPUT, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(t.baseUrl)) external.push(req.url());
    });
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) problems.push(`${msg.text()} ${msg.location().url}`);
    });
    page.on('pageerror', (err) => problems.push(err.message));

    await page.goto(`${t.baseUrl}/dashboard/campaigns/${campaignId}`);
    expect(new URL(page.url()).pathname).toBe('/operator/sign-in');
    await page.screenshot({ path: path.join(OUTPUT, 'operator-sign-in.png') });
    await page.fill('#username', manager.username);
    await page.fill('#password', manager.password);
    await Promise.all([page.waitForURL(`**/dashboard/campaigns/${campaignId}`), page.click('button[type=submit]')]);

    const completed = page.locator('[data-live="completed"]');
    const before = await completed.textContent();
    expect(before).toBe(done.length.toLocaleString('en-US'));
    expect(await page.locator('[data-step="completed"] [data-field="count"]').textContent()).toBe(done.length.toLocaleString('en-US'));
    // Survives only as long as the page is not reloaded.
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));

    await advance(t, campaignId, ids.slice(1500, 1650), 'completed');
    const after = (done.length + 150).toLocaleString('en-US');
    const percent = (Math.round(((done.length + 150) / 2400) * 1000) / 10).toFixed(1);
    await page.waitForFunction((text) => document.querySelector('[data-live="completed"]')?.textContent === text, after, { timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await page.locator('[data-step="completed"] [data-field="count"]').textContent()).toBe(after);
    expect(await page.locator('[data-step="completed"] rect.fill').getAttribute('width')).toBe(String(Number(percent)));
    expect(await page.locator('[data-live="completionPercent"]').textContent()).toBe(`${percent}%`);

    expect(await page.locator('a[href="/admin/queues"]').count()).toBe(0);
    expect(await page.locator('[data-responder-only]').count()).toBe(0);
    expect(await page.locator('text=Export CSV').count()).toBe(1);

    const shot = path.join(OUTPUT, 'dashboard-1280.png');
    await page.screenshot({ path: shot, fullPage: true });
    // The README's screenshot is refreshed on request only, so a test run never dirties the work tree.
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      await mkdir('docs', { recursive: true });
      await copyFile(shot, path.join('docs', 'dashboard.png'));
    }

    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard-phone.png') });

    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${t.baseUrl}/dashboard`);
    expect(await page.locator(`a[href="/dashboard/campaigns/${campaignId}"]`).textContent()).toBe('Okta credential-stuffing response');
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard-list.png') });

    expect(external).toEqual([]);
    // No script error and no Content-Security-Policy violation.
    expect(problems).toEqual([]);
    await context.close();
  });
});
