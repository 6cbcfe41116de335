import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCampaignCommands } from '../../src/cli/commands/campaigns.commands.js';
import { findLinks } from '../../src/notifications/link-free.js';
import { ReminderFeedService } from '../../src/notifications/notices/reminder-feed.service.js';
import { ReminderSenderService } from '../../src/notifications/notices/reminder-sender.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { runCli } from '../support/cli.js';
import { tempFile } from '../support/factories.js';
import { type ReceivedMail, SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { sleep, until } from '../support/until.js';

const isReminder = (m: ReceivedMail) => (m.parsed.subject ?? '').startsWith('Reminder ');
const isNotice = (m: ReceivedMail) => (m.parsed.subject ?? '').startsWith('Security notice ');

function linkProblems(m: ReceivedMail): string[] {
  return [
    ...findLinks('subject', m.parsed.subject ?? ''),
    ...findLinks('text', m.parsed.text ?? ''),
    ...findLinks('html', typeof m.parsed.html === 'string' ? m.parsed.html : '', true),
  ].map((p) => `${m.to}: ${p.part} ${p.rule} ${p.text}`);
}

describe('campaign reminders and the manager digest', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let token: string;

  const api = (path: string, method = 'POST', body?: unknown) =>
    fetch(`${t.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const ids = async (prefix: string) =>
    new Map((await t.prisma.account.findMany({ where: { username: { startsWith: prefix } } })).map((a) => [a.username, a.id]));
  const complete = (accountId: number) => t.prisma.$transaction((tx) => t.get(CampaignProgressService).completeAccount(tx, accountId));
  const remindersTo = (prefix: string) => sink.messages.filter((m) => isReminder(m) && m.to.startsWith(prefix));
  const rounds = (campaignId: number) => t.prisma.campaignReminder.findMany({ where: { campaignId }, orderBy: { number: 'asc' } });
  const notified = (campaignId: number, sent: number, failed = 0) =>
    until(() => t.get(CampaignProgressService).counts(campaignId), (c) => c.notice_sent === sent && c.notice_failed === failed);

  async function createAndLaunch(prefix: string, extra: Record<string, unknown>): Promise<{ id: number; phrase: string; launchedAt: Date }> {
    const usernames = [...(await ids(prefix)).keys()];
    const created = await api('/api/campaigns', 'POST', { name: `Reminders ${prefix}`, incidentRef: 'INC-77', reason: 'Passwords may have leaked.', scope: 'usernames', usernames, noticeRate: 100, ...extra });
    expect(created.status).toBe(201);
    const { campaign } = (await created.json()) as { campaign: { id: number; phrase: string } };
    expect((await api(`/api/campaigns/${campaign.id}/launch`, 'POST', { acceptGaps: true })).status).toBe(200);
    const { launchedAt } = await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } });
    return { ...campaign, launchedAt: launchedAt! };
  }

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    sink.behaviour = (to) => (to.startsWith('bounced') ? { code: 550, message: '5.1.1 mailbox unavailable' } : undefined);
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s', CAMPAIGN_DIGEST_INTERVAL: '2s' });
    token = await t.operatorToken('responder');
    // ra9 has no verified address and ra10's is refused for good: both end notice_failed and never get a reminder.
    await t.prisma.$executeRawUnsafe(`
      INSERT INTO accounts (username, email, email_verified, display_name, org_unit, password_hash)
      SELECT p || i, CASE WHEN p = 'ra' AND i = 10 THEN 'bounced' || i ELSE p || i END || '@example.org', NOT (p = 'ra' AND i = 9),
             'User ' || p || i, (ARRAY['finance', 'finance', 'finance', 'engineering', 'engineering', 'sales'])[1 + (i - 1) % 6], 'hash'
      FROM unnest(ARRAY['ra', 'rb', 'rc', 'rd']) p, generate_series(1, 10) i
      WHERE (p = 'ra') OR (p = 'rb' AND i <= 4) OR (p = 'rc' AND i <= 3) OR (p = 'rd' AND i <= 6)`);
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('sends each reminder to the accounts still open when it falls due, once, and stops at --max-reminders', async () => {
    const account = await ids('ra');
    const list = await tempFile([...account.keys()].join('\n'), 'txt');
    const created = await runCli(t, registerCampaignCommands, [
      'campaign', 'create', '--name', 'Reminders ra', '--incident', 'INC-77', '--usernames', list, '--rate', '100', '--remind', '5s,10s,11s', '--max-reminders', '2',
    ], { SMTP_URL: sink.url });
    expect(created.out).toContain('reminders 5s,10s,11s after launch, at most 2');
    const id = Number(/campaign (\d+) created/.exec(created.out)![1]);
    expect((await api(`/api/campaigns/${id}/launch`, 'POST', { acceptGaps: true })).status).toBe(200);
    const { launchedAt, phrase } = await t.prisma.campaign.findUniqueOrThrow({ where: { id } });

    await notified(id, 8, 2);
    // Before the first reminder: two reset, one is disabled at the source.
    await complete(account.get('ra1')!);
    await complete(account.get('ra2')!);
    await t.prisma.account.update({ where: { id: account.get('ra3')! }, data: { disabled: true } });
    const changedAt = new Date();

    await sink.waitFor(() => remindersTo('ra').length >= 5);
    const [first] = await rounds(id);
    expect(first.startedAt.getTime()).toBeGreaterThan(changedAt.getTime());
    await until(() => rounds(id), (r) => r[0].sent === 5);
    expect(remindersTo('ra').map((m) => m.to).sort()).toEqual(['ra4@example.org', 'ra5@example.org', 'ra6@example.org', 'ra7@example.org', 'ra8@example.org']);
    expect(first).toMatchObject({ number: 1, recipients: 5, sent: 5, failed: 0 });

    await complete(account.get('ra4')!);
    await sink.waitFor(() => remindersTo('ra').length >= 9);
    await until(() => rounds(id), (r) => r.length === 2 && r[1].sent === 4);
    const second = (await rounds(id))[1];
    expect(second).toMatchObject({ number: 2, recipients: 4, sent: 4, failed: 0 });
    expect(remindersTo('ra').slice(5).map((m) => m.to).sort()).toEqual(['ra5@example.org', 'ra6@example.org', 'ra7@example.org', 'ra8@example.org']);

    // The third offset has passed, but --max-reminders 2 ends the schedule.
    await sleep(Math.max(0, launchedAt.getTime() + 13_500 - Date.now()));
    expect(await rounds(id)).toHaveLength(2);

    // Sending or feeding again, at once, sends nothing more: the rows already hold the reminder numbers.
    const sender = t.get(ReminderSenderService);
    expect(await Promise.all([sender.send(id, account.get('ra5')!, 2), sender.send(id, account.get('ra5')!, 2)])).toEqual(['skipped', 'skipped']);
    await Promise.all([t.get(ReminderFeedService).feed(id), t.get(ReminderFeedService).feed(id)]);
    await sleep(1500);
    const reminders = remindersTo('ra');
    expect(reminders).toHaveLength(9);
    expect(sink.messages.filter((m) => isNotice(m) && m.to.startsWith('ra'))).toHaveLength(8);

    const sent = await t.prisma.campaignAccount.findMany({ where: { campaignId: id }, include: { account: { select: { username: true } } } });
    expect(Object.fromEntries(sent.map((r) => [r.account.username, r.remindersSent]))).toEqual({
      ra1: 0, ra2: 0, ra3: 0, ra4: 1, ra5: 2, ra6: 2, ra7: 2, ra8: 2, ra9: 0, ra10: 0,
    });
    for (const m of reminders) {
      expect(linkProblems(m)).toEqual([]);
      expect(m.parsed.text).toContain(phrase);
      expect(m.parsed.headers.get('auto-submitted')).toBe('auto-generated');
    }
    expect(new Set(reminders.map((m) => m.parsed.messageId)).size).toBe(9);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain(`reset_reminders_total{campaign_id="${id}",result="sent"} 9`);
    const audit = await t.prisma.auditEntry.findMany({ where: { campaignId: id, action: 'campaign.reminder' }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.details)).toEqual([{ reminder: 1, recipients: 5 }, { reminder: 2, recipients: 4 }]);

    // The dashboard marks both on the funnel and the curve; of the 10 accounts, ra4 reset in the 48 h after R1 (and R2's).
    const page = await (await fetch(`${t.baseUrl}/dashboard/campaigns/${id}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(page).toContain('Reminder 1 sent');
    expect(page).toContain('Reminder 2 sent');
    expect(page.match(/<line class="mark"/g)).toHaveLength(2);
    expect(page).toMatch(/<tr data-reminder="1">.*<td class="num">5<\/td><td class="num">5<\/td><td class="num">0<\/td><td class="num">1<\/td><td class="num" data-field="gained-percent">10\.0%<\/td><\/tr>/);
    expect(page).toMatch(/<tr data-reminder="2">.*<td class="num">4<\/td><td class="num">4<\/td><td class="num">0<\/td><td class="num">0<\/td><td class="num" data-field="gained-percent">0\.0%<\/td><\/tr>/);
  });

  it('holds a reminder due while paused until resume, then sends it to those still open', async () => {
    const account = await ids('rb');
    const { id, launchedAt } = await createAndLaunch('rb', { reminders: '3s' });
    await notified(id, 4);
    expect((await api(`/api/campaigns/${id}/pause`)).status).toBe(200);
    await sleep(Math.max(0, launchedAt.getTime() + 6000 - Date.now()));
    expect(remindersTo('rb')).toHaveLength(0);
    expect(await rounds(id)).toHaveLength(0);

    await complete(account.get('rb1')!);
    expect((await api(`/api/campaigns/${id}/resume`)).status).toBe(200);
    await sink.waitFor(() => remindersTo('rb').length >= 3);
    await until(() => rounds(id), (r) => r[0]?.sent === 3);
    await sleep(1000);
    expect(remindersTo('rb').map((m) => m.to).sort()).toEqual(['rb2@example.org', 'rb3@example.org', 'rb4@example.org']);
    expect(await rounds(id)).toMatchObject([{ number: 1, recipients: 3, sent: 3 }]);
  });

  it('drops reminders when the campaign is cancelled, and the schedule can be changed while running', async () => {
    const { id, launchedAt } = await createAndLaunch('rc', { reminders: '30s' });
    await notified(id, 3);
    // Moved forward while running: offsets count from launch.
    const changed = await api(`/api/campaigns/${id}`, 'PATCH', { reminders: '4s', maxReminders: 1 });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ reminderOffsets: [4], maxReminders: 1 });
    expect((await api(`/api/campaigns/${id}/cancel`, 'POST', {})).status).toBe(200);
    await sleep(Math.max(0, launchedAt.getTime() + 7000 - Date.now()));
    expect(remindersTo('rc')).toHaveLength(0);
    expect(await rounds(id)).toHaveLength(0);
    expect((await api(`/api/campaigns/${id}`, 'PATCH', { reminders: '5s' })).status).toBe(409);
    expect((await api(`/api/campaigns/${id}`, 'PATCH', { reminders: 'soon' })).status).toBe(400);
    expect((await api(`/api/campaigns/${id}`, 'PATCH', {})).status).toBe(400);
  });

  it('mails the managers a daily digest of counts per org unit, with no username, address or link', async () => {
    const account = await ids('rd');
    const { id } = await createAndLaunch('rd', {});
    await notified(id, 6);
    // rd1-rd3 finance, rd4-rd5 engineering, rd6 sales; one of finance and one of engineering reset.
    await complete(account.get('rd1')!);
    await complete(account.get('rd4')!);
    expect((await api(`/api/campaigns/${id}`, 'PATCH', { digestTo: ['not-an-address'] })).status).toBe(400);
    expect((await api(`/api/campaigns/${id}`, 'PATCH', { digestTo: ['boss1@corp.test', 'boss2@corp.test'] })).status).toBe(200);
    await sink.waitFor(() => sink.to('boss1@corp.test').length >= 1 && sink.to('boss2@corp.test').length >= 1);

    for (const mail of [sink.to('boss1@corp.test')[0], sink.to('boss2@corp.test')[0]]) {
      expect(mail.parsed.subject).toBe('Reset campaign INC-77: 4 of 6 accounts still to reset');
      const text = mail.parsed.text ?? '';
      expect(text).toContain('Still to reset: 4 of 6 accounts (2 done, 33.3%).');
      expect(text).toContain('- finance · 2 / 3\n- engineering · 1 / 2\n- sales · 1 / 1\n');
      expect(linkProblems(mail)).toEqual([]);
      const everything = `${mail.parsed.subject}\n${text}\n${mail.parsed.html}`;
      for (const username of account.keys()) expect(everything).not.toMatch(new RegExp(`\\b${username}\\b`));
      expect(everything).not.toContain('example.org');
      expect(everything).not.toContain('User rd');
    }
    const audit = await t.prisma.auditEntry.findFirstOrThrow({ where: { campaignId: id, action: 'campaign.digest' } });
    expect(audit.details).toMatchObject({ digestManagers: 2 });
  });
});
