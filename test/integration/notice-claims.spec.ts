import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { NoticeClaimsService } from '../../src/notifications/notices/notice-claims.service.js';
import { NoticeDeferredError, NoticeSenderService } from '../../src/notifications/notices/notice-sender.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * The notice path without a transaction per notice: sends claim their rows with a lease, in groups, and their
 * acceptances are recorded in group commits. ROLE=api, so no worker sends on its own: the test calls the sender.
 */
describe('notice claims and group commits', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let sender: NoticeSenderService;
  let campaignId: number;
  const ids = new Map<string, number>();

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ ROLE: 'api', SMTP_URL: sink.url, NOTICE_CONCURRENCY: '10' });
    sender = t.get(NoticeSenderService);
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified, display_name, password_hash)
       SELECT 'nc' || i, 'nc' || i || '@example.org', true, 'Claim ' || i, 'hash' FROM generate_series(1, 60) i`,
    );
    for (const a of await t.prisma.account.findMany({ where: { username: { startsWith: 'nc' } } })) ids.set(a.username, a.id);
    const campaign = await t.prisma.campaign.create({
      data: { name: 'Claims', incidentRef: 'INC-9', reason: 'Passwords may have leaked.', phrase: 'amber-otter', scope: 'all', status: 'running', noticeRate: 1000, createdBy: 'test' },
    });
    campaignId = campaign.id;
    await t.prisma.$transaction((tx) => t.get(CampaignProgressService).flag(tx, campaignId, Prisma.sql`SELECT id FROM accounts WHERE username LIKE 'nc%'`));
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  const lease = (username: string) =>
    t.prisma.campaignAccount.findUniqueOrThrow({ where: { campaignId_accountId: { campaignId, accountId: ids.get(username)! } }, select: { state: true, noticeLease: true, noticeLeaseUntil: true } });

  it('sends two jobs of one account once: the second is put off while the first holds the claim', async () => {
    const account = ids.get('nc1')!;
    const outcomes = await Promise.allSettled([sender.send(campaignId, account, false), sender.send(campaignId, account, false)]);
    const sent = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'sent');
    const putOff = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof NoticeDeferredError);
    expect([sent.length, putOff.length]).toEqual([1, 1]);
    expect(sink.messages.filter((m) => m.to === 'nc1@example.org')).toHaveLength(1);
    // The retry of the put-off job finds the notice recorded.
    expect(await sender.send(campaignId, account, false)).toBe('skipped');
    expect(await lease('nc1')).toEqual({ state: 'notice_sent', noticeLease: null, noticeLeaseUntil: null });
  });

  it("waits out another worker's claim, and sends once that claim has lapsed", async () => {
    const account = ids.get('nc2')!;
    const dead = randomUUID();
    await t.prisma.campaignAccount.update({
      where: { campaignId_accountId: { campaignId, accountId: account } },
      data: { noticeLease: dead, noticeLeaseUntil: new Date(Date.now() + 20_000) },
    });
    const error = await sender.send(campaignId, account, false).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(NoticeDeferredError);
    expect((error as NoticeDeferredError).delayMs).toBeGreaterThan(15_000);
    expect((error as NoticeDeferredError).delayMs).toBeLessThanOrEqual(20_000);
    expect(sink.messages.filter((m) => m.to === 'nc2@example.org')).toHaveLength(0);

    await t.prisma.campaignAccount.update({ where: { campaignId_accountId: { campaignId, accountId: account } }, data: { noticeLeaseUntil: new Date(Date.now() - 1000) } });
    expect(await sender.send(campaignId, account, false)).toBe('sent');
    expect(sink.messages.filter((m) => m.to === 'nc2@example.org')).toHaveLength(1);
  });

  it('claims and records concurrent sends in fewer statements than notices, counters equal to the rows', async () => {
    const claims = t.get(NoticeClaimsService);
    const statements: string[] = [];
    const query = claims.pool.query.bind(claims.pool);
    claims.pool.query = ((config: { name?: string; text: string }, ...rest: unknown[]) => {
      statements.push(config.name ?? config.text);
      return (query as (...args: unknown[]) => unknown)(config, ...rest);
    }) as typeof claims.pool.query;
    claims.peakUnrecorded = 0;
    const accounts = Array.from({ length: 40 }, (_, i) => ids.get(`nc${i + 11}`)!);
    try {
      expect(await Promise.all(accounts.map((a) => sender.send(campaignId, a, false)))).toEqual(Array(40).fill('sent'));
    } finally {
      claims.pool.query = query;
    }
    const claimStatements = statements.filter((s) => s === 'ro_claim_notices').length;
    const recordStatements = statements.filter((s) => s.startsWith('ro_') && s !== 'ro_claim_notices').length;
    expect(claimStatements).toBeGreaterThanOrEqual(1);
    expect(claimStatements).toBeLessThan(40);
    expect(recordStatements).toBeGreaterThanOrEqual(1);
    expect(recordStatements).toBeLessThan(40);
    // The duplicate window: notices accepted and not yet recorded, at most the sends in flight.
    expect(claims.peakUnrecorded).toBeGreaterThanOrEqual(1);
    expect(claims.peakUnrecorded).toBeLessThanOrEqual(40);
    expect(sink.messages.filter((m) => /^nc(1[1-9]|[2-4]\d|50)@/.test(m.to))).toHaveLength(40);
    const [{ sent, leased }] = await t.prisma.$queryRaw<{ sent: number; leased: number }[]>`
      SELECT count(*) FILTER (WHERE state = 'notice_sent')::int AS sent, count(*) FILTER (WHERE notice_lease IS NOT NULL)::int AS leased
      FROM campaign_accounts WHERE campaign_id = ${campaignId}`;
    // nc1 and nc2 from the tests above, and the 40.
    expect([sent, leased]).toEqual([42, 0]);
    expect(await t.get(CampaignProgressService).counts(campaignId)).toMatchObject({ notice_sent: 42, flagged: 18 });
  });

  it("renews the claims of sends still talking to the server, and only this process's", async () => {
    const claims = t.get(NoticeClaimsService);
    const account = ids.get('nc4')!;
    const other = ids.get('nc5')!;
    const theirs = new Date(Date.now() + 5_000);
    await t.prisma.campaignAccount.update({ where: { campaignId_accountId: { campaignId, accountId: other } }, data: { noticeLease: randomUUID(), noticeLeaseUntil: theirs } });
    sink.dataDelayMs = 1500;
    try {
      const sending = sender.send(campaignId, account, false);
      let claimed = await lease('nc4');
      while (!claimed.noticeLeaseUntil) claimed = await lease('nc4');
      // Claimed for 30 s from the claim.
      expect(claimed.noticeLeaseUntil.getTime() - Date.now()).toBeGreaterThan(25_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await (claims as unknown as { renew(): Promise<void> }).renew();
      const renewed = await lease('nc4');
      expect(renewed.noticeLeaseUntil!.getTime()).toBeGreaterThan(claimed.noticeLeaseUntil.getTime() + 500);
      expect((await lease('nc5')).noticeLeaseUntil).toEqual(theirs);
      expect(await sending).toBe('sent');
    } finally {
      sink.dataDelayMs = 0;
    }
    expect(await lease('nc4')).toEqual({ state: 'notice_sent', noticeLease: null, noticeLeaseUntil: null });
  });

  it('gives the claim back when the send is refused for now, and records a refusal for good', async () => {
    sink.behaviour = (rcpt) => (rcpt === 'nc3@example.org' ? { code: 451, message: '4.3.0 try later' } : undefined);
    const account = ids.get('nc3')!;
    await expect(sender.send(campaignId, account, false)).rejects.toThrow('try later');
    expect(await lease('nc3')).toEqual({ state: 'flagged', noticeLease: null, noticeLeaseUntil: null });
    sink.behaviour = (rcpt) => (rcpt === 'nc3@example.org' ? { code: 550, message: '5.1.1 no such user' } : undefined);
    expect(await sender.send(campaignId, account, false)).toBe('failed');
    expect(await lease('nc3')).toEqual({ state: 'notice_failed', noticeLease: null, noticeLeaseUntil: null });
    sink.behaviour = () => undefined;
  });
});
