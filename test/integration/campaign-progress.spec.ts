import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { CURVE_WIDTHS_S } from '../../src/progress/completion-buckets.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('campaign progress', () => {
  let t: TestApp;
  let progress: CampaignProgressService;
  let campaignId: number;

  beforeAll(async () => {
    t = await createTestApp();
    progress = t.get(CampaignProgressService);
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username) SELECT 'p' || i FROM generate_series(1, 1000) i`,
    );
    campaignId = (
      await t.prisma.campaign.create({
        data: { name: 'c', incidentRef: 'INC-1', reason: 'r', scope: 'all', noticeRate: 10, phrase: 'amber falcon', createdBy: 'test' },
      })
    ).id;
  });
  afterAll(() => t.close());

  it('flags each account once, however often a batch is replayed', async () => {
    const batch = Prisma.sql`SELECT id FROM accounts WHERE id <= 600`;
    expect(await t.prisma.$transaction((tx) => progress.flag(tx, campaignId, batch))).toBe(600);
    expect(await t.prisma.$transaction((tx) => progress.flag(tx, campaignId, batch))).toBe(0);
    expect(await t.prisma.$transaction((tx) => progress.flag(tx, campaignId, Prisma.sql`SELECT id FROM accounts`))).toBe(400);
    expect((await progress.counts(campaignId)).flagged).toBe(1000);
  });

  it('moves accounts forward only and keeps counters equal to COUNT(*)', async () => {
    const ids = (await t.prisma.account.findMany({ select: { id: true }, orderBy: { id: 'asc' }, take: 10 })).map((a) => a.id);
    const tx = <T>(fn: (tx: Prisma.TransactionClient) => Promise<T>) => t.prisma.$transaction(fn);
    expect(await tx((c) => progress.advance(c, campaignId, ids.slice(0, 5), 'notice_sent'))).toHaveLength(5);
    expect(await tx((c) => progress.advance(c, campaignId, ids.slice(5), 'notice_failed', { noticeError: '550 no such user' }))).toHaveLength(5);
    expect(await tx((c) => progress.advance(c, campaignId, ids.slice(0, 2), 'completed'))).toHaveLength(2);
    // Completed accounts do not go back to pre_reset; a retried failure can become sent.
    expect(await tx((c) => progress.advance(c, campaignId, ids.slice(0, 3), 'pre_reset'))).toEqual([ids[2]]);
    expect(await tx((c) => progress.advance(c, campaignId, [ids[5]], 'notice_sent'))).toEqual([ids[5]]);

    const failed = await t.prisma.campaignAccount.findUniqueOrThrow({ where: { campaignId_accountId: { campaignId, accountId: ids[6] } } });
    expect(failed).toMatchObject({ state: 'notice_failed', noticeError: '550 no such user', noticeAttempts: 1 });
    expect(failed.noticeFailedAt).toBeInstanceOf(Date);

    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
    expect(await progress.counts(campaignId)).toMatchObject({ flagged: 990, notice_sent: 3, notice_failed: 4, pre_reset: 1, completed: 2 });
  });

  it('keeps counters exact under concurrent transitions of the same accounts', async () => {
    const ids = (await t.prisma.account.findMany({ select: { id: true }, orderBy: { id: 'desc' }, take: 200 })).map((a) => a.id);
    await Promise.all(
      Array.from({ length: 8 }, () => t.prisma.$transaction((c) => progress.advance(c, campaignId, ids, 'notice_sent'))),
    );
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
  });

  it('keeps the dashboard rows equal to a recount from campaign_accounts after every kind of move', async () => {
    // q1..q30: i % 3 = 1 in unit1, 2 in unit2, 0 without an org unit.
    await t.prisma.$executeRawUnsafe(`INSERT INTO accounts (username, org_unit) SELECT 'q' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'unit' || (i % 3) END FROM generate_series(1, 30) i`);
    const q = (await t.prisma.$queryRawUnsafe<{ id: number }[]>(`SELECT id FROM accounts WHERE username ~ '^q[0-9]+$' ORDER BY substr(username, 2)::int`)).map((r) => r.id);
    const id = (
      await t.prisma.campaign.create({ data: { name: 'd', incidentRef: 'INC-2', reason: 'r', scope: 'all', noticeRate: 10, phrase: 'amber falcon', createdBy: 'test' } })
    ).id;
    const tx = <T>(fn: (tx: Prisma.TransactionClient) => Promise<T>) => t.prisma.$transaction(fn);
    const only = (ids: number[]) => Prisma.sql`SELECT unnest(${ids}::int[])`;
    expect(await tx((c) => progress.flag(c, id, only(q.slice(0, 24))))).toBe(24);
    expect(await tx((c) => progress.flag(c, id, only(q)))).toBe(6);
    await tx((c) => progress.advance(c, id, q.slice(0, 20), 'notice_sent'));
    await tx((c) => progress.advance(c, id, q.slice(20, 24), 'notice_failed', { noticeError: '550' }));
    await tx((c) => progress.advance(c, id, q.slice(0, 12), 'pre_reset'));
    await tx((c) => progress.advance(c, id, q.slice(0, 8), 'link_sent'));
    // An org unit changed after flagging does not move the account's counts: they keep the unit it was flagged in.
    await t.prisma.account.update({ where: { id: q[0] }, data: { orgUnit: 'moved' } });
    // q1..q6 take 1..6 minutes from flagging to a new password; q6 through completeAccount, as a reset does.
    await t.prisma.$executeRawUnsafe(`UPDATE campaign_accounts SET flagged_at = now() - make_interval(mins => array_position($1::int[], account_id)) WHERE campaign_id = ${id} AND account_id = ANY($1::int[])`, q.slice(0, 6));
    await tx((c) => progress.advance(c, id, q.slice(0, 5), 'completed'));
    expect(await tx((c) => progress.completeAccount(c, q[5]))).toEqual([id]);
    expect(await tx((c) => progress.advance(c, id, 'all-open', 'cancelled'))).toHaveLength(24);
    // Nothing moves out of cancelled or completed.
    expect(await tx((c) => progress.advance(c, id, q.slice(0, 10), 'completed'))).toEqual([]);

    const rows = await progress.aggregateRows(id);
    expect(rows).toEqual(await progress.recountAggregates(id));
    expect(await progress.counts(id)).toEqual(await progress.recount(id));
    expect(await progress.counts(id)).toMatchObject({ completed: 6, cancelled: 24, flagged: 0, notice_sent: 0 });
    expect(rows.orgUnits).toEqual([
      { orgUnit: '', total: 10, completed: 2 },
      { orgUnit: 'unit1', total: 10, completed: 2 },
      { orgUnit: 'unit2', total: 10, completed: 2 },
    ]);
    // 60, 120, 180, 240, 300 and 360 s (plus milliseconds) in buckets [60, 62), [120, 124), [176, 184), [240, 248), [288, 304), [352, 368).
    expect(rows.times).toEqual([46, 62, 70, 78, 82, 86].map((bucket) => ({ bucket, count: 1 })));
    for (const width of CURVE_WIDTHS_S) {
      expect(rows.curve.filter((r) => r.widthSeconds === width).reduce((sum, r) => sum + r.count, 0), `width ${width}`).toBe(6);
    }

    // The rebuild (repairs) writes the same rows.
    await tx((c) => progress.rebuildAggregates(c, id));
    expect(await progress.aggregateRows(id)).toEqual(rows);
  });
});
