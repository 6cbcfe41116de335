import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
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
});
