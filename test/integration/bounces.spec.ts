import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { freePort } from '../../bench/support.js';
import { BounceMailboxReader, PROCESSED_KEYWORD } from '../../src/bounces/bounce-mailbox.service.js';
import { Dovecot } from '../support/dovecot.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';
import { signIn } from './dashboard-fixtures.js';

const BOUNCE_DOMAIN = 'bounces.example.org';
const MAIL_FROM = 'security@example.org';
const KEY = Buffer.alloc(32, 7).toString('base64');
const USERS = ['bad', 'slow', 'away', 'victim', 'other'] as const;
type User = (typeof USERS)[number];

const PERMANENT = { action: 'failed', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <bad@example.org>: Recipient address rejected: User unknown' };
const DELAY = { action: 'delayed', status: '4.4.1', diagnostic: 'smtp; 451 4.4.1 Connection timed out, will retry' };
const PERMANENT_ERROR = 'bounce 5.1.1: smtp; 550 5.1.1 <bad@example.org>: Recipient address rejected: User unknown';

let reportSeq = 0;

/** An RFC 3464 report as Postfix writes one (it, too, says Auto-Submitted: auto-replied). */
function dsn(to: string, recipient: string, fields: { action: string; status: string; diagnostic: string }): string {
  reportSeq += 1;
  const boundary = `report-${reportSeq}`;
  return [
    'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
    `To: ${to}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <dsn-${reportSeq}@mx.example.org>`,
    'Date: Wed, 02 Dec 2026 12:00:00 +0000',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.org. Your message could not be delivered.',
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    'Arrival-Date: Wed, 02 Dec 2026 11:59:58 +0000',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    `Original-Recipient: rfc822;${recipient}`,
    `Action: ${fields.action}`,
    `Status: ${fields.status}`,
    'Remote-MTA: dns; mx2.example.org',
    // Folded, as MTAs write long diagnostics.
    `Diagnostic-Code: ${fields.diagnostic.replace(': Recipient', ':\r\n    Recipient')}`,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    `From: Security Team <${MAIL_FROM}>`,
    `To: ${recipient}`,
    'Subject: Security notice',
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

function autoReply(to: string, from: string): string {
  return [`From: ${from}`, `To: ${to}`, 'Subject: Out of office', 'Auto-Submitted: auto-replied', `Message-ID: <ooo-${++reportSeq}@example.org>`, '', 'I am away until Monday.', ''].join('\r\n');
}

interface Launched {
  campaignId: number;
  ids: Record<User, number>;
  verp: Record<User, string>;
}

/** Five accounts, one campaign, every notice delivered to the sink; returns each notice's envelope sender. */
async function launch(t: TestApp, sink: SmtpSink, prefix: string): Promise<Launched> {
  await t.prisma.$executeRawUnsafe(
    `INSERT INTO accounts (username, email, email_verified, display_name, password_hash)
     SELECT '${prefix}' || u, u || '@example.org', true, 'Person ' || u, 'hash' FROM unnest($1::text[]) u`,
    [...USERS],
  );
  const token = await t.operatorToken('responder');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${t.baseUrl}/api/campaigns`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'Bounced', incidentRef: 'INC-18', reason: 'Passwords may have leaked.', scope: 'all', noticeRate: 50 }),
  });
  expect(created.status).toBe(201);
  const { campaign } = await created.json();
  expect((await fetch(`${t.baseUrl}/api/campaigns/${campaign.id}/launch`, { method: 'POST', headers })).status).toBe(200);
  await sink.waitFor(() => sink.messages.length >= USERS.length);
  await until(() => stateCounts(t, campaign.id), (c) => c.notice_sent === USERS.length);
  const accounts = await t.prisma.account.findMany({ where: { username: { startsWith: prefix } }, select: { id: true, username: true } });
  const ids = Object.fromEntries(accounts.map((a) => [a.username.slice(prefix.length), a.id])) as Record<User, number>;
  const verp = {} as Record<User, string>;
  for (const user of USERS) {
    const [mail] = sink.to(`${user}@example.org`);
    expect(mail.from).toMatch(new RegExp(`^bounces\\+${campaign.id}\\.${ids[user]}\\.[0-9a-f]{20}@bounces\\.example\\.org$`));
    expect(mail.parsed.from?.value[0].address).toBe(MAIL_FROM);
    verp[user] = mail.from;
  }
  return { campaignId: campaign.id, ids, verp };
}

/** The account `forOther`'s valid tag under `user`'s account id: what a forger who saw one notice could try. */
function forged(l: Launched, user: User, forOther: User): string {
  return l.verp[forOther].replace(`.${l.ids[forOther]}.`, `.${l.ids[user]}.`);
}

/** The campaign's counter rows, zeros left out. */
async function stateCounts(t: TestApp, campaignId: number): Promise<Record<string, number>> {
  const counters = await t.prisma.campaignStateCount.findMany({ where: { campaignId } });
  return Object.fromEntries(counters.filter((r) => r.count).map((r) => [r.state, r.count]));
}

async function rows(t: TestApp, l: Launched) {
  const progress = await t.prisma.campaignAccount.findMany({ where: { campaignId: l.campaignId }, orderBy: { accountId: 'asc' } });
  const byUser = (id: number) => USERS.find((u) => l.ids[u] === id)!;
  const bounces = await t.prisma.noticeBounce.findMany({ where: { campaignId: l.campaignId }, orderBy: { id: 'asc' } });
  return {
    states: Object.fromEntries(progress.map((p) => [byUser(p.accountId), { state: p.state, noticeError: p.noticeError, noticeAttempts: p.noticeAttempts }])),
    bounces: bounces.map((b) => ({ user: byUser(b.accountId), kind: b.kind, status: b.status, diagnostic: b.diagnostic })),
  };
}

/** What every test below must find after the four reports: written out, not computed. */
function expectOutcome(found: Awaited<ReturnType<typeof rows>>): void {
  expect(found.states).toEqual({
    bad: { state: 'notice_failed', noticeError: PERMANENT_ERROR, noticeAttempts: 1 },
    slow: { state: 'notice_sent', noticeError: null, noticeAttempts: 1 },
    away: { state: 'notice_sent', noticeError: null, noticeAttempts: 1 },
    victim: { state: 'notice_sent', noticeError: null, noticeAttempts: 1 },
    other: { state: 'notice_sent', noticeError: null, noticeAttempts: 1 },
  });
  expect(found.bounces).toEqual([
    { user: 'bad', kind: 'failed', status: '5.1.1', diagnostic: PERMANENT.diagnostic },
    { user: 'slow', kind: 'delayed', status: '4.4.1', diagnostic: DELAY.diagnostic },
  ]);
}

async function expectCountersExact(t: TestApp, campaignId: number): Promise<void> {
  expect(await stateCounts(t, campaignId)).toEqual({ notice_sent: 4, notice_failed: 1 });
  const recount = await t.prisma.$queryRawUnsafe<{ state: string; n: number }[]>(
    'SELECT state::text, count(*)::int AS n FROM campaign_accounts WHERE campaign_id = $1 GROUP BY state ORDER BY state',
    campaignId,
  );
  expect(Object.fromEntries(recount.map((r) => [r.state, r.n]))).toEqual({ notice_sent: 4, notice_failed: 1 });
}

function baseEnv(sink: SmtpSink): Record<string, string> {
  return { SMTP_URL: sink.url, MAIL_FROM: `Security Team <${MAIL_FROM}>`, BOUNCE_DOMAIN, SECRET_ENCRYPTION_KEY: KEY, CAMPAIGN_SWEEP_INTERVAL: '1s' };
}

describe('bounces received on the SMTP listener', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let port: number;
  let l: Launched;
  const relay = () => nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  const deliver = (to: string, raw: string) => relay().sendMail({ envelope: { from: '', to: [to] }, raw });

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    port = await freePort();
    t = await createTestApp({ ...baseEnv(sink), BOUNCE_SMTP_PORT: String(port) });
    l = await launch(t, sink, 's-');
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('fails the permanently bounced account, records the delay, ignores the auto-reply and the forged address', async () => {
    const permanent = dsn(l.verp.bad, 'bad@example.org', PERMANENT);
    await deliver(l.verp.bad, permanent);
    await deliver(l.verp.slow, dsn(l.verp.slow, 'slow@example.org', DELAY));
    await deliver(l.verp.away, autoReply(l.verp.away, 'away@example.org'));
    await deliver(forged(l, 'victim', 'other'), dsn(forged(l, 'victim', 'other'), 'victim@example.org', PERMANENT));
    await deliver(`bounces+${l.campaignId}.${l.ids.victim}.0000000000deadbeef00@${BOUNCE_DOMAIN}`, dsn(l.verp.victim, 'victim@example.org', PERMANENT));

    // The listener answers DATA after recording, so everything is in the database now.
    expectOutcome(await rows(t, l));
    await expectCountersExact(t, l.campaignId);

    // The same reports again (a relay that retried): nothing more changes.
    await deliver(l.verp.bad, permanent);
    await deliver(l.verp.bad, permanent);
    expectOutcome(await rows(t, l));
    await expectCountersExact(t, l.campaignId);

    // Counted once each by kind; the repeated report is not counted again.
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const counted = Object.fromEntries([...metrics.matchAll(/^reset_bounces_total\{kind="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(counted).toEqual({ failed: 1, delayed: 1, ignored: 1, forged: 2 });
  });

  it('refuses recipients that are not bounce addresses', async () => {
    await expect(deliver(`security@${BOUNCE_DOMAIN}`, autoReply(`security@${BOUNCE_DOMAIN}`, 'x@example.org'))).rejects.toMatchObject({ responseCode: 550 });
    await expect(deliver(`bounces+1.2.abc@elsewhere.example`, autoReply('x@elsewhere.example', 'x@example.org'))).rejects.toMatchObject({ responseCode: 550 });
  });

  it('lists the bounced account in the failures table, the failed-notices API and the stragglers CSV', async () => {
    const manager = await signIn(t, 'manager');
    const page = await (await fetch(`${t.baseUrl}/dashboard/campaigns/${l.campaignId}`, { headers: { cookie: manager.cookie } })).text();
    const failures = page.slice(page.indexOf('id="fail-h"'), page.indexOf('id="pending-h"'));
    expect(failures).toContain('<td>s-bad</td><td>bad@example.org</td>');
    expect(failures).toContain('<td>5.1.1 failed</td>');
    expect(failures).toContain('bounce 5.1.1: smtp; 550 5.1.1 &lt;bad@example.org&gt;: Recipient address rejected: User unknown');

    const token = await t.operatorToken('manager');
    const failed = await (await fetch(`${t.baseUrl}/api/campaigns/${l.campaignId}/notices/failed`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(failed.items.map((r: { username: string; noticeError: string }) => [r.username, r.noticeError])).toEqual([['s-bad', PERMANENT_ERROR]]);

    const csv = await (await fetch(`${t.baseUrl}/dashboard/campaigns/${l.campaignId}/pending.csv`, { headers: { cookie: manager.cookie } })).text();
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('username,email,display_name,org_unit,state,notice_error,flagged_at,bounce,bounced_at');
    const line = (user: string) => lines.find((x) => x.startsWith(`s-${user},`))!;
    expect(line('bad')).toContain(`,notice_failed,"${PERMANENT_ERROR}",`);
    expect(line('bad')).toMatch(/,5\.1\.1 failed,\d{4}-\d\d-\d\dT[^,]+$/);
    expect(line('slow')).toMatch(/,notice_sent,,[^,]+,4\.4\.1 delayed,\d{4}-/);
    expect(line('away')).toMatch(/,notice_sent,,[^,]+,,$/);
    expect(line('victim')).toMatch(/,notice_sent,,[^,]+,,$/);
  });
});

describe('bounces read from an IMAP mailbox (Dovecot)', () => {
  let sink: SmtpSink;
  let dovecot: Dovecot;
  let t: TestApp;
  let l: Launched;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    dovecot = await Dovecot.start();
    t = await createTestApp({ ...baseEnv(sink), BOUNCE_IMAP_URL: dovecot.url(), BOUNCE_IMAP_INTERVAL: '1s' });
    l = await launch(t, sink, 'i-');
  });

  afterAll(async () => {
    await t?.close();
    await dovecot?.destroy();
    await sink?.stop();
  });

  async function unprocessed(): Promise<number> {
    const client = await dovecot.client();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        return ((await client.search({ unKeyword: PROCESSED_KEYWORD }, { uid: true })) || []).length;
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  }

  it('processes each mail once, flags it, and moves only the permanently bounced account', async () => {
    const permanent = dsn(l.verp.bad, 'bad@example.org', PERMANENT);
    const client = await dovecot.client();
    for (const raw of [
      permanent,
      dsn(l.verp.slow, 'slow@example.org', DELAY),
      autoReply(l.verp.away, 'away@example.org'),
      dsn(forged(l, 'victim', 'other'), 'victim@example.org', PERMANENT),
      // A person writing to the mailbox: no bounce address at all.
      ['From: someone@example.org', `To: postmaster@${BOUNCE_DOMAIN}`, 'Subject: hello', '', 'hi', ''].join('\r\n'),
    ]) {
      await client.append('INBOX', raw);
    }
    await client.logout();

    await until(unprocessed, (n) => n === 0, 20_000);
    expectOutcome(await rows(t, l));
    await expectCountersExact(t, l.campaignId);

    const check = await dovecot.client();
    const lock = await check.getMailboxLock('INBOX');
    const flags: string[][] = [];
    for await (const message of check.fetch('1:*', { flags: true })) flags.push([...(message.flags ?? [])].sort());
    lock.release();
    expect(flags).toEqual(Array.from({ length: 5 }, () => ['$ResetOrchestratorProcessed', '\\Seen']));

    // The same report placed again (a second copy) and a poll now: recorded once, nothing moves twice.
    await check.append('INBOX', permanent);
    await check.logout();
    await until(unprocessed, (n) => n === 0, 20_000);
    expect(await t.get(BounceMailboxReader).poll()).toBe(0);
    expectOutcome(await rows(t, l));
    await expectCountersExact(t, l.campaignId);
  });
});
