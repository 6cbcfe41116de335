import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationsService } from '../../src/integrations/applications/applications.service.js';
import { registerCampaignCommands } from '../../src/cli/commands/campaigns.commands.js';
import { NoticeQueueService } from '../../src/notifications/notices/notice-queue.service.js';
import { queueLimitFor } from '../../src/notifications/notices/notice-rate.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { RedisService } from '../../src/redis/redis.module.js';
import { runCli } from '../support/cli.js';
import { tempFile } from '../support/factories.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { sleep, until } from '../support/until.js';

describe('campaign lifecycle', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let responder: string;
  let manager: string;
  let progress: CampaignProgressService;

  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const token = init.token === undefined ? responder : init.token;
    return fetch(`${t.baseUrl}${path}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  };
  const post = (path: string, body: unknown = {}, token?: string | null) => api(path, { method: 'POST', body: JSON.stringify(body), token });

  async function seed(prefix: string, count: number, extra = ''): Promise<void> {
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified, display_name, org_unit, password_hash)
       SELECT '${prefix}' || i, '${prefix}' || i || '@example.org', true, 'Person ' || i, '${prefix}-unit', 'hash' FROM generate_series(1, ${count}) i ${extra}`,
    );
  }

  async function createCampaign(body: Record<string, unknown>): Promise<{ id: number; phrase: string }> {
    const res = await post('/api/campaigns', { name: 'Test', incidentRef: 'INC-7', reason: 'Passwords may have leaked.', ...body });
    expect(res.status).toBe(201);
    return (await res.json()).campaign;
  }

  const countsOf = (id: number) => progress.counts(id);
  const mailsTo = (prefix: string) => sink.messages.filter((m) => m.to.startsWith(prefix));

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s', NOTICE_RETRY_DELAY_MS: '100', NOTICE_MAX_ATTEMPTS: '8' });
    responder = await t.operatorToken('responder');
    manager = await t.operatorToken('manager');
    progress = t.get(CampaignProgressService);
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('requires an operator token and the right role, and validates input', async () => {
    expect((await post('/api/campaigns', {}, null)).status).toBe(401);
    expect((await post('/api/campaigns', { name: 'x', incidentRef: 'y', reason: 'z', scope: 'all' }, manager)).status).toBe(403);
    expect((await api('/api/campaigns', { token: manager })).status).toBe(200);
    expect((await post('/api/campaigns', { name: 'x', incidentRef: 'y', reason: 'z', scope: 'everyone' })).status).toBe(400);
    expect((await post('/api/campaigns', { name: 'x', incidentRef: 'y', reason: 'z', scope: 'all', extra: 1 })).status).toBe(400);
    expect((await post('/api/campaigns', { name: 'x', incidentRef: 'y', reason: 'z', scope: 'usernames' })).status).toBe(400);
    const linked = await post('/api/campaigns', { name: 'x', incidentRef: 'INC-1', reason: 'Details at https://status.example.com', scope: 'all' });
    expect(linked.status).toBe(400);
    expect((await linked.json()).message).toContain('https:');
    expect((await api('/api/campaigns/999999')).status).toBe(404);
  });

  it('previews a usernames scope: who would be flagged, who lacks a verified email, who was not found', async () => {
    await seed('pv', 5);
    await t.prisma.account.update({ where: { username: 'pv2' }, data: { emailVerified: false } });
    const campaign = await createCampaign({ scope: 'usernames', usernames: ['pv1', 'PV2', ' pv3 ', 'nobody'] });
    const res = await api(`/api/campaigns/${campaign.id}/preview`, { token: manager });
    const preview = await res.json();
    expect(preview).toMatchObject({ toFlag: 3, withoutVerifiedEmail: 1, usernamesNotFound: { count: 1, sample: ['nobody'] }, linkCheck: { ok: true } });
    expect(preview.notice.text).toContain(campaign.phrase);
    expect(preview.notice.text).toContain('Next time you sign in as you normally do');
    // A draft flags nobody.
    expect(await t.prisma.account.count({ where: { mustReset: true, username: { startsWith: 'pv' } } })).toBe(0);
  });

  it('counts who a campaign leaves out, each as its own number, and launches only when the responder accepts them', async () => {
    await seed('gp', 9);
    // gp1, gp2: fine. gp3, gp4: no way to sign in. gp5: disabled. gp6, gp7: no verified email (one has no address).
    // gp8: signs in through its directory, gp9 through a connected application's gate. gp3 is also unverified: it
    // counts in both.
    await t.prisma.account.updateMany({ where: { username: { in: ['gp3', 'gp4'] } }, data: { passwordHash: null } });
    await t.prisma.account.update({ where: { username: 'gp5' }, data: { disabled: true } });
    await t.prisma.account.updateMany({ where: { username: { in: ['gp3', 'gp6'] } }, data: { emailVerified: false } });
    await t.prisma.account.update({ where: { username: 'gp7' }, data: { email: null } });
    await t.prisma.account.update({ where: { username: 'gp8' }, data: { passwordHash: null, directoryDn: 'uid=gp8,ou=people,dc=example,dc=org' } });
    const portal = await t.get(ApplicationsService).create({ name: 'gaps-portal', returnOrigins: ['https://portal.example.org'], webhookUrl: 'http://127.0.0.1:9/hooks' }, 'test');
    await t.prisma.account.update({ where: { username: 'gp9' }, data: { passwordHash: null, applicationId: portal.id } });
    const list = ['gp1', 'gp2', 'gp3', 'gp4', 'gp5', 'gp6', 'gp7', 'gp8', 'gp9', 'gone1', 'gone3', 'gone2'];
    const campaign = await createCampaign({ scope: 'usernames', usernames: list });

    const preview = await (await api(`/api/campaigns/${campaign.id}/preview`, { token: manager })).json();
    expect(preview.toFlag).toBe(9);
    expect(preview.gaps).toEqual({ unknownUsernames: 3, cannotReachPreReset: 2, disabled: 1, withoutVerifiedEmail: 3 });
    // How the others reach it: this product's own sign-in, the application's gate, the directory.
    expect(preview.reachPreResetBy).toEqual({ ownSignIn: 5, gate: 1, directory: 1 });
    expect(preview.usernamesNotFound).toEqual({ count: 3, sample: ['gone1', 'gone2', 'gone3'] });

    const csv = await api(`/api/campaigns/${campaign.id}/unknown-usernames`, { token: manager });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(await csv.text()).toBe('username\r\ngone1\r\ngone2\r\ngone3\r\n');

    const dashboard = await fetch(`${t.baseUrl}/dashboard/campaigns/${campaign.id}`, { headers: { authorization: `Bearer ${manager}` } });
    const page = await dashboard.text();
    for (const [gap, n] of [['unknownUsernames', 3], ['cannotReachPreReset', 2], ['disabled', 1], ['withoutVerifiedEmail', 3]]) {
      expect(page).toContain(`data-gap="${gap}">${n}</dd>`);
    }
    expect(page).toContain(`href="/api/campaigns/${campaign.id}/unknown-usernames"`);

    const refused = await post(`/api/campaigns/${campaign.id}/launch`);
    expect(refused.status).toBe(409);
    const body = await refused.json();
    expect(body.gaps).toEqual({ unknownUsernames: 3, cannotReachPreReset: 2, disabled: 1, withoutVerifiedEmail: 3 });
    expect(body.message).toBe(
      `campaign ${campaign.id} would leave people out: 3 usernames on the list match no account; ` +
        '2 accounts cannot reach the pre-reset page (no password here, no application, no directory); 1 accounts are disabled; ' +
        '3 accounts have no verified email. Launch with --accept-gaps (API: {"acceptGaps": true}) to go ahead',
    );
    expect((await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).status).toBe('draft');
    expect(await t.prisma.account.count({ where: { mustReset: true, username: { startsWith: 'gp' } } })).toBe(0);
    expect((await post(`/api/campaigns/${campaign.id}/launch`, { acceptGaps: 'yes' })).status).toBe(400);

    const accepted = await post(`/api/campaigns/${campaign.id}/launch`, { acceptGaps: true });
    expect(accepted.status).toBe(200);
    expect((await accepted.json()).status).toBe('running');
    const launch = await t.prisma.auditEntry.findFirstOrThrow({ where: { campaignId: campaign.id, action: 'campaign.launch' } });
    expect(launch.details).toMatchObject({ acceptedGaps: true, gaps: { unknownUsernames: 3, cannotReachPreReset: 2, disabled: 1, withoutVerifiedEmail: 3 } });
    await post(`/api/campaigns/${campaign.id}/cancel`, { clearMustReset: true });
  });

  it('resetctl campaign create prints the gaps, launch refuses without --accept-gaps, unknown-usernames lists them', async () => {
    await seed('cg', 3);
    await t.prisma.account.update({ where: { username: 'cg2' }, data: { disabled: true } });
    const file = await tempFile('username\ncg1\ncg2\ncg3\nnot-here\n', 'txt');
    const cli = async (...args: string[]) => (await runCli(t, registerCampaignCommands, args, { SMTP_URL: sink.url })).out;
    const created = await cli('campaign', 'create', '--name', 'CLI gaps', '--incident', 'INC-9', '--usernames', file);
    const id = Number(/^campaign (\d+) created/.exec(created)![1]);
    expect(created).toContain('accounts to flag:           3\n');
    expect(created).toContain(`  usernames with no account:    1 (not-here; all: resetctl campaign unknown-usernames ${id})\n`);
    expect(created).toContain('  cannot reach pre-reset page:  0 (no password here, no application, no directory)\n');
    expect(created).toContain('  disabled:                     1\n');
    expect(created).toContain('  without a verified email:     0 (no notice, no reset link: admin-assisted path)\n');

    // resetctl prints the message and exits 1 on a rejected command.
    await expect(cli('campaign', 'launch', String(id))).rejects.toThrow(
      `campaign ${id} would leave people out: 1 usernames on the list match no account; 1 accounts are disabled.`,
    );
    expect((await t.prisma.campaign.findUniqueOrThrow({ where: { id } })).status).toBe('draft');
    expect(await cli('campaign', 'unknown-usernames', String(id))).toBe('username\r\nnot-here\r\n');
    expect(await cli('campaign', 'launch', String(id), '--accept-gaps')).toContain('running');
    await cli('campaign', 'cancel', String(id), '--clear-must-reset');
  });

  it('pauses at once, resumes where it stopped, changes rate, and cancels with must-reset cleared', async () => {
    await seed('pr', 200);
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'pr-unit', noticeRate: 20 });
    expect((await post(`/api/campaigns/${campaign.id}/launch`)).status).toBe(200);
    await sink.waitFor(() => mailsTo('pr').length >= 10);

    const paused = await post(`/api/campaigns/${campaign.id}/pause`);
    expect(paused.status).toBe(200);
    expect((await paused.json()).status).toBe('paused');
    await sleep(300); // sends already talking to the server finish
    const atPause = mailsTo('pr').length;
    await sleep(2000);
    expect(mailsTo('pr').length).toBe(atPause);
    expect((await countsOf(campaign.id)).notice_sent).toBe(atPause);
    expect((await post(`/api/campaigns/${campaign.id}/pause`)).status).toBe(409);

    expect((await api(`/api/campaigns/${campaign.id}`, { method: 'PATCH', body: JSON.stringify({ noticeRate: 40 }) })).status).toBe(200);
    expect((await post(`/api/campaigns/${campaign.id}/resume`)).status).toBe(200);
    await sink.waitFor(() => mailsTo('pr').length >= atPause + 10);

    const cancelled = await post(`/api/campaigns/${campaign.id}/cancel`, { clearMustReset: true });
    expect(cancelled.status).toBe(200);
    const result = await cancelled.json();
    await sleep(300);
    const atCancel = mailsTo('pr').length;
    await sleep(1500);
    expect(mailsTo('pr').length).toBe(atCancel);
    expect(atCancel).toBeLessThan(200);
    expect(new Set(mailsTo('pr').map((m) => m.to)).size).toBe(atCancel);

    expect(result).toMatchObject({ status: 'cancelled', cancelled: 200, cleared: 200 });
    const counts = await countsOf(campaign.id);
    expect(counts).toEqual(await progress.recount(campaign.id));
    expect(counts.cancelled).toBe(200);
    expect(await t.prisma.account.count({ where: { username: { startsWith: 'pr' }, OR: [{ mustReset: true }, { mustResetCampaignId: { not: null } }] } })).toBe(0);
    expect((await post(`/api/campaigns/${campaign.id}/launch`)).status).toBe(409);
    const actions = (await t.prisma.auditEntry.findMany({ where: { campaignId: campaign.id }, orderBy: { id: 'asc' } })).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['campaign.create', 'campaign.launch', 'campaign.pause', 'campaign.rate', 'campaign.resume', 'campaign.cancel', 'campaign.cancelled']),
    );
  });

  it('sends at a raised rate at once: the limiter window begun at the old rate does not hold the worker', async () => {
    await seed('rr', 20);
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'rr-unit', noticeRate: 1 });
    expect((await post(`/api/campaigns/${campaign.id}/launch`)).status).toBe(200);
    await sink.waitFor(() => mailsTo('rr').length >= 1);
    const limiter = t.get(NoticeQueueService).queue(campaign.id).keys.limiter;
    const redis = t.get(RedisService);
    // At 1/s the window is several seconds long.
    expect(await redis.pttl(limiter)).toBeGreaterThan(1000);

    const raised = Date.now();
    expect((await api(`/api/campaigns/${campaign.id}`, { method: 'PATCH', body: JSON.stringify({ noticeRate: 200 }) })).status).toBe(200);
    expect(await redis.pttl(limiter)).toBeLessThanOrEqual(queueLimitFor(200).duration);
    await sink.waitFor(() => mailsTo('rr').length === 20);
    // Before the fix the rest waited for the old window to end, about 4 s; now the old rate's last slot (1 s) and the warm-up.
    expect(Date.now() - raised).toBeLessThan(3000);
  });

  it('marks a 550 refusal failed with the reply, and retry sends it', async () => {
    await seed('ff', 5);
    await t.prisma.account.update({ where: { username: 'ff5' }, data: { emailVerified: false } });
    sink.behaviour = (rcpt) => (rcpt === 'ff3@example.org' ? { code: 550, message: 'No such mailbox here' } : undefined);
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'ff-unit', noticeRate: 100 });
    // ff5 has no verified email: a gap the responder accepts.
    expect((await post(`/api/campaigns/${campaign.id}/launch`, { acceptGaps: true })).status).toBe(200);
    await until(() => countsOf(campaign.id), (c) => c.notice_sent === 3 && c.notice_failed === 2);

    const failed = await (await api(`/api/campaigns/${campaign.id}/notices/failed`, { token: manager })).json();
    const byUser = Object.fromEntries(failed.items.map((r: { username: string; noticeError: string }) => [r.username, r.noticeError]));
    expect(byUser.ff3).toMatch(/^550 .*No such mailbox here/);
    expect(byUser.ff5).toMatch(/no verified email/);
    expect(mailsTo('ff3')).toHaveLength(0);

    sink.behaviour = () => undefined;
    const retried = await post(`/api/campaigns/${campaign.id}/notices/retry`);
    expect(await retried.json()).toEqual({ requeued: 1, withoutVerifiedEmail: 1 });
    await sink.waitFor(() => mailsTo('ff3').length === 1);
    const counts = await until(() => countsOf(campaign.id), (c) => c.notice_sent === 4);
    expect(counts).toMatchObject({ notice_sent: 4, notice_failed: 1 });
    expect(counts).toEqual(await progress.recount(campaign.id));
    expect(mailsTo('ff')).toHaveLength(4);
  });

  it('retries a burst of 421 replies until every notice is delivered, once', async () => {
    await seed('bb', 10);
    const refusals = new Map<string, number>();
    sink.behaviour = (rcpt) => {
      if (!rcpt.startsWith('bb')) return undefined;
      const n = (refusals.get(rcpt) ?? 0) + 1;
      refusals.set(rcpt, n);
      return n <= 3 ? { code: 421, message: 'Too many messages, try again later' } : undefined;
    };
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'bb-unit', noticeRate: 200 });
    await post(`/api/campaigns/${campaign.id}/launch`);
    await sink.waitFor(() => mailsTo('bb').length >= 10);
    await until(() => countsOf(campaign.id), (c) => c.notice_sent === 10);
    await sleep(500);
    sink.behaviour = () => undefined;
    expect(mailsTo('bb')).toHaveLength(10);
    expect(new Set(mailsTo('bb').map((m) => m.to)).size).toBe(10);
    expect([...refusals.values()].every((n) => n === 4)).toBe(true);
    expect(await countsOf(campaign.id)).toEqual(await progress.recount(campaign.id));
  });

  it('rebuilds lost queues from the database: interrupted flagging and lost notice jobs', async () => {
    await seed('rq', 60);
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'rq-unit', noticeRate: 30 });
    // As if the process died right after the launch committed: no job was ever queued.
    await t.prisma.campaign.update({ where: { id: campaign.id }, data: { status: 'running', launchedAt: new Date() } });
    await sink.waitFor(() => mailsTo('rq').length >= 5);
    // As if Redis restarted: every queued notice job is gone.
    await t.get(NoticeQueueService).discard(campaign.id);
    await until(() => countsOf(campaign.id), (c) => c.notice_sent === 60, 30_000);
    await sleep(500);
    expect(mailsTo('rq')).toHaveLength(60);
    expect(new Set(mailsTo('rq').map((m) => m.to)).size).toBe(60);
    expect(await t.prisma.account.count({ where: { username: { startsWith: 'rq' }, mustReset: true } })).toBe(60);
    expect(await countsOf(campaign.id)).toEqual(await progress.recount(campaign.id));
  });

  it('lists accounts by state, paged and as CSV, and completes when everyone has reset', async () => {
    await seed('cc', 5);
    const campaign = await createCampaign({ scope: 'org_unit', orgUnit: 'cc-unit', noticeRate: 100 });
    await post(`/api/campaigns/${campaign.id}/launch`);
    await until(() => countsOf(campaign.id), (c) => c.notice_sent === 5);

    const page = await (await api(`/api/campaigns/${campaign.id}/accounts?state=notice_sent&limit=2`, { token: manager })).json();
    expect(page.items).toHaveLength(2);
    const next = await (await api(`/api/campaigns/${campaign.id}/accounts?state=notice_sent&limit=10&after=${page.nextAfter}`, { token: manager })).json();
    expect(next.items).toHaveLength(3);
    expect(next.nextAfter).toBeNull();
    const csv = await api(`/api/campaigns/${campaign.id}/accounts?state=notice_sent`, { token: manager, headers: { accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toMatch(/^accountId,username,email,state/);
    expect(lines).toHaveLength(6);

    // Still running: notices are out but nobody has reset. Once everyone has, the sweep completes it.
    expect((await (await api(`/api/campaigns/${campaign.id}/progress`)).json()).status).toBe('running');
    await t.prisma.$transaction((tx) => progress.advance(tx, campaign.id, 'all-open', 'completed'));
    await until(async () => (await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).status, (s) => s === 'completed', 10_000);
    const last = await t.prisma.auditEntry.findFirst({ where: { campaignId: campaign.id }, orderBy: { id: 'desc' } });
    expect(last).toMatchObject({ actor: 'system', action: 'campaign.completed' });
  });
});
