import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { NoticePacerService } from '../../src/notifications/notices/notice-pacer.service.js';
import { QUEUE_BOARD_PATH } from '../../src/operators/operator-tools.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { advance, seedCampaign, signIn } from './dashboard-fixtures.js';

/** The sign-in form's `next` field takes at most 500 characters. */
const SIGN_IN_NEXT_MAX_LENGTH = 500;

describe('completion dashboard', () => {
  let t: TestApp;
  let campaignId: number;
  let ids: number[];
  let onPreReset: number[];
  let manager: { cookie: string };
  let responder: { cookie: string };

  beforeAll(async () => {
    t = await createTestApp();
    // 120 accounts over three org units (40 each); engineering completes least.
    ({ campaignId, accountIds: ids } = await seedCampaign(t, { accounts: 120, orgUnits: ['finance', 'engineering', 'sales'], name: 'Okta breach' }));
    const byUnit = await t.prisma.account.findMany({ where: { id: { in: ids } }, select: { id: true, orgUnit: true }, orderBy: { id: 'asc' } });
    const unit = (u: string) => byUnit.filter((a) => a.orgUnit === u).map((a) => a.id);
    await advance(t, campaignId, ids.slice(0, 100), 'notice_sent');
    await advance(t, campaignId, ids.slice(100, 110), 'notice_failed', '550 5.1.1 <=cmd|calc>: mailbox unavailable');
    const completed = [...unit('finance').slice(0, 30), ...unit('sales').slice(0, 20), ...unit('engineering').slice(0, 5)];
    await advance(t, campaignId, completed, 'completed');
    onPreReset = ids.slice(0, 100).filter((id) => !completed.includes(id)).slice(0, 10);
    await advance(t, campaignId, onPreReset, 'pre_reset');
    await advance(t, campaignId, onPreReset.slice(0, 5), 'link_sent');
    // A username a spreadsheet would run as a formula.
    await t.prisma.account.update({ where: { id: ids[119] }, data: { username: '=hyperlink("http://evil")' } });
    manager = await signIn(t, 'manager');
    responder = await signIn(t, 'responder');
  });
  afterAll(() => t.close());

  const html = async (path: string, cookie: string) => {
    const res = await fetch(`${t.baseUrl}${path}`, { headers: { cookie, accept: 'text/html' } });
    return { status: res.status, body: await res.text(), res };
  };

  it('lists campaigns with status, affected count and completion', async () => {
    const { status, body } = await html('/dashboard', manager.cookie);
    expect(status).toBe(200);
    expect(body).toContain('Okta breach');
    expect(body).toMatch(/status-paused">Paused/);
    expect(body).toMatch(/<td class="num">120<\/td>\s*<td class="num">55<\/td>/);
    expect(body).toContain('45.8%');
  });

  it('renders the funnel, the curve, percentiles and the org-unit table without JavaScript', async () => {
    const { status, body } = await html(`/dashboard/campaigns/${campaignId}`, manager.cookie);
    expect(status).toBe(200);
    const step = (key: string) => new RegExp(`data-step="${key}"[\\s\\S]*?data-field="count">([^<]+)<[\\s\\S]*?data-field="percent">([^<]+)<`).exec(body)?.slice(1);
    expect(step('flagged')).toEqual(['120', '100.0%']);
    // notice_sent now (35) + pre_reset and later (65)
    expect(step('notice_sent')).toEqual(['100', '83.3%']);
    expect(step('notice_failed')).toEqual(['10', '8.3%']);
    expect(step('pre_reset')).toEqual(['65', '54.2%']);
    expect(step('link_sent')).toEqual(['60', '50.0%']);
    expect(step('completed')).toEqual(['55', '45.8%']);
    expect(body).toMatch(/data-live="pending">65</);
    expect(body).toContain('<svg class="curve"');
    expect(body).toMatch(/aria-label="Completed resets over time: 55 of 120/);
    expect(body).not.toMatch(/data-live="median">—/);
    const units = [...body.matchAll(/<tr><td>(finance|engineering|sales)<\/td><td class="num">(\d+)<\/td>/g)].map((m) => [m[1], m[2]]);
    expect(units).toEqual([
      ['engineering', '5'],
      ['sales', '20'],
      ['finance', '30'],
    ]);
    expect(body).toContain('550 5.1.1 &lt;&#x3D;cmd|calc&gt;: mailbox unavailable');
    expect(body).toContain('<script src="/assets/dashboard.js" defer></script>');
    expect(body).not.toMatch(/<script>(?!<)/);
  });

  it('shows the rates the campaign sends at now, per domain, with a slowed-down domain at half its rate', async () => {
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { domainRates: { 'gmail.com': 20, '*': 40 } } });
    await t.get(NoticePacerService).slowDown('outlook.com', '421 4.7.0 Too many messages, try again later');
    const { body } = await html(`/dashboard/campaigns/${campaignId}`, manager.cookie);
    expect(body).toMatch(/Sending at 50\/s · gmail\.com 20\/s · any other domain 40\/s · outlook\.com 20\/s \(slowed down until \d{4}-\d\d-\d\d \d\d:\d\d UTC\)</);
  });

  it('computes time-to-reset percentiles from flagged_at to completed_at', async () => {
    const fresh = await seedCampaign(t, { accounts: 10 });
    await t.prisma.$executeRawUnsafe(
      `UPDATE campaign_accounts SET flagged_at = now() - make_interval(mins => account_id - ${fresh.accountIds[0]} + 1) WHERE campaign_id = ${fresh.campaignId}`,
    );
    await advance(t, fresh.campaignId, fresh.accountIds, 'completed');
    const live = await (await fetch(`${t.baseUrl}/dashboard/campaigns/${fresh.campaignId}/live.json`, { headers: { cookie: manager.cookie } })).json();
    // 1..10 minutes: exactly, median 5 min 30 s and p90 9 min 6 s; from the precomputed histogram (buckets 1/16 to
    // 1/32 of their lower edge wide, each bucket's values spread evenly across it) 5 min 28 s and 8 min 54 s.
    expect(live.median).toBe('5 min 28 s');
    expect(live.p90).toBe('8 min 54 s');
    expect(live.completionPercent).toBe('100.0%');
  });

  it('pages the pending accounts by keyset and exports them all as neutralised CSV', async () => {
    const first = await html(`/dashboard/campaigns/${campaignId}`, manager.cookie);
    const next = /\?after=(\d+)">Next page/.exec(first.body)?.[1];
    expect(next).toBeDefined();
    const second = await html(`/dashboard/campaigns/${campaignId}?after=${next}`, manager.cookie);
    const next2 = /\?after=(\d+)">Next page/.exec(second.body)?.[1];
    const third = await html(`/dashboard/campaigns/${campaignId}?after=${next2}`, manager.cookie);
    const rows = (b: string) => [...b.matchAll(/<tr><td>([^<]+)<\/td><td>User/g)].map((m) => m[1]);
    expect(rows(first.body)).toHaveLength(25);
    expect(rows(second.body)).toHaveLength(25);
    expect(rows(third.body)).toHaveLength(15);
    expect(third.body).not.toContain('Next page');
    expect(new Set([...rows(first.body), ...rows(second.body), ...rows(third.body)]).size).toBe(65);

    const csv = await fetch(`${t.baseUrl}/dashboard/campaigns/${campaignId}/pending.csv`, { headers: { cookie: manager.cookie } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('username,email,display_name,org_unit,state,notice_error,flagged_at,bounce,bounced_at');
    expect(lines).toHaveLength(66);
    expect(lines.some((l) => l.startsWith(`"'=hyperlink(""http://evil"")"`))).toBe(true);
    expect(lines.some((l) => l.includes('notice_failed') && l.includes('550 5.1.1'))).toBe(true);
  });

  it('serves live numbers that follow the counters', async () => {
    const get = async () => (await fetch(`${t.baseUrl}/dashboard/campaigns/${campaignId}/live.json`, { headers: { cookie: manager.cookie } })).json();
    const before = await get();
    await advance(t, campaignId, onPreReset, 'completed');
    const after = await get();
    expect(before.completed).toBe('55');
    expect(after.completed).toBe('65');
    expect(after.funnel.find((s: { key: string }) => s.key === 'completed')).toMatchObject({ count: '65', percent: '54.2%' });
    expect(after.live).toBe(true);
  });

  it('shows responder tools to responders only', async () => {
    const forManager = await html(`/dashboard/campaigns/${campaignId}`, manager.cookie);
    const forResponder = await html(`/dashboard/campaigns/${campaignId}`, responder.cookie);
    expect(forManager.body).not.toContain('href="/admin/queues"');
    expect(forManager.body).not.toContain('data-responder-only');
    expect(forResponder.body).toContain('href="/admin/queues"');
  });

  it('alerts the issuing responder when a view-once secret link is revisited', async () => {
    await t.get(AuditService).recordNow({ actor: 'user:someone', action: 'secret.revisited', details: { secretId: 7, createdBy: 'operator:issuer' } });
    await t.get(AuditService).recordNow({ actor: 'user:other', action: 'secret.revisited', details: { secretId: 8, createdBy: 'operator:somebody-else' } });
    const issuer = await signIn(t, 'responder', 'issuer');
    const own = await html(`/dashboard/campaigns/${campaignId}`, issuer.cookie);
    expect(own.body).toContain('Temporary-password link revisited');
    expect(own.body).toContain('&quot;secretId&quot;:7');
    expect(own.body).not.toContain('&quot;secretId&quot;:8');
    expect((await html('/dashboard', manager.cookie)).body).not.toContain('Temporary-password link revisited');
  });

  it('answers an unknown campaign with 404 and a browser without a session with the sign-in page', async () => {
    expect((await html('/dashboard/campaigns/999999', manager.cookie)).status).toBe(404);
    const anonymous = await fetch(`${t.baseUrl}/dashboard/campaigns/${campaignId}`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(`/operator/sign-in?next=${encodeURIComponent(`/dashboard/campaigns/${campaignId}`)}`);
    const api = await fetch(`${t.baseUrl}/dashboard/campaigns/${campaignId}/live.json`);
    expect(api.status).toBe(401);
  });

  it('sends a browser with an over-long page address to a sign-in page that works, and then to the dashboard home', async () => {
    const signInHop = async (path: string) => {
      const bounce = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(bounce.status, path.slice(0, 60)).toBe(303);
      const location = bounce.headers.get('location')!;
      const page = await fetch(new URL(location, t.baseUrl));
      const body = await page.text();
      return { location, status: page.status, next: /name="next" value="([^"]*)"/.exec(body)?.[1]?.replace(/&#x2F;/g, '/').replace(/&#x3D;/g, '=') };
    };
    const base = `/dashboard/campaigns/${campaignId}?after=`;
    const longest = `${base}${'1'.repeat(SIGN_IN_NEXT_MAX_LENGTH - base.length)}`;
    // Up to the sign-in form's limit the page comes back after sign-in.
    expect(await signInHop(longest)).toEqual({ location: `/operator/sign-in?next=${encodeURIComponent(longest)}`, status: 200, next: longest });
    // One character more, from a Nest page (the dashboard filter) or an Express-mounted one (the queue board).
    for (const path of [`${longest}1`, `${QUEUE_BOARD_PATH}?x=${'a'.repeat(SIGN_IN_NEXT_MAX_LENGTH)}`]) {
      expect(await signInHop(path)).toEqual({ location: '/operator/sign-in', status: 200, next: '/dashboard' });
    }
  });
});
