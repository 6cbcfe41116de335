import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignFlaggingService } from '../../src/campaigns/campaign-flagging.service.js';
import type { CampaignScope } from '../../src/generated/prisma/enums.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * Flagging batch by batch (ROLE=api: no worker flags behind the test's back), in batches of 100 over 350 accounts:
 * what a batch changes, what it never touches, and that a failed or replayed batch leaves exact counters.
 */
describe('campaign flagging', () => {
  let t: TestApp;
  let flagging: CampaignFlaggingService;
  let progress: CampaignProgressService;

  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api', CAMPAIGN_FLAG_BATCH: '100' });
    flagging = t.get(CampaignFlaggingService);
    progress = t.get(CampaignProgressService);
  });
  afterAll(() => t.close());

  async function seed(prefix: string, n: number): Promise<void> {
    // Every third account is outside the 'in' unit; each account has a live session, an unused and a used reset link.
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, org_unit, password_hash)
       SELECT '${prefix}' || i, CASE WHEN i % 3 = 0 THEN '${prefix}-out' ELSE '${prefix}-in' END, 'hash-${prefix}' || i
       FROM generate_series(1, ${n}) i`,
    );
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO sessions (id_hash, account_id, kind, csrf_token, expires_at)
       SELECT 'session-' || id, id, 'full', 'csrf', now() + interval '1 hour' FROM accounts WHERE username LIKE '${prefix}%'`,
    );
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO reset_tokens (token_hash, account_id, expires_at, used_at)
       SELECT 'token-' || id || '-' || used, id, now() + interval '1 hour', CASE WHEN used THEN now() END
       FROM accounts, (VALUES (false), (true)) AS u(used) WHERE username LIKE '${prefix}%'`,
    );
  }

  async function runningCampaign(scope: CampaignScope, scopeOrgUnit?: string): Promise<number> {
    const campaign = await t.prisma.campaign.create({
      data: { name: 'c', incidentRef: 'INC-1', reason: 'r', scope, scopeOrgUnit, noticeRate: 10, phrase: 'amber falcon', createdBy: 'test', status: 'running', launchedAt: new Date() },
    });
    return campaign.id;
  }

  interface Effects {
    flagged: number;
    flaggedOutside: number;
    passwordsChanged: number;
    expired: number;
    liveSessionsInside: number;
    liveSessionsOutside: number;
    unusedLinksInside: number;
    unusedLinksOutside: number;
    usedLinksRevoked: number;
  }

  async function effects(prefix: string, campaignId: number): Promise<Effects> {
    const [row] = await t.prisma.$queryRawUnsafe<Effects[]>(
      `SELECT
         count(*) FILTER (WHERE a.must_reset AND a.must_reset_campaign_id = $1 AND a.org_unit = '${prefix}-in')::int AS "flagged",
         count(*) FILTER (WHERE a.must_reset AND a.org_unit <> '${prefix}-in')::int AS "flaggedOutside",
         count(*) FILTER (WHERE a.password_hash <> 'hash-' || a.username)::int AS "passwordsChanged",
         count(*) FILTER (WHERE a.password_expired)::int AS "expired",
         (SELECT count(*) FROM sessions s JOIN accounts b ON b.id = s.account_id
          WHERE b.username LIKE '${prefix}%' AND b.org_unit = '${prefix}-in' AND s.revoked_at IS NULL)::int AS "liveSessionsInside",
         (SELECT count(*) FROM sessions s JOIN accounts b ON b.id = s.account_id
          WHERE b.username LIKE '${prefix}%' AND b.org_unit <> '${prefix}-in' AND s.revoked_at IS NULL)::int AS "liveSessionsOutside",
         (SELECT count(*) FROM reset_tokens r JOIN accounts b ON b.id = r.account_id
          WHERE b.username LIKE '${prefix}%' AND b.org_unit = '${prefix}-in' AND r.used_at IS NULL AND r.revoked_at IS NULL)::int AS "unusedLinksInside",
         (SELECT count(*) FROM reset_tokens r JOIN accounts b ON b.id = r.account_id
          WHERE b.username LIKE '${prefix}%' AND b.org_unit <> '${prefix}-in' AND r.used_at IS NULL AND r.revoked_at IS NULL)::int AS "unusedLinksOutside",
         (SELECT count(*) FROM reset_tokens r JOIN accounts b ON b.id = r.account_id
          WHERE b.username LIKE '${prefix}%' AND r.used_at IS NOT NULL AND r.revoked_at IS NOT NULL)::int AS "usedLinksRevoked"
       FROM accounts a WHERE a.username LIKE '${prefix}%'`,
      campaignId,
    );
    return row;
  }

  it('flags the scope batch by batch: must-reset, sessions and unused links revoked, passwords and others untouched', async () => {
    await seed('fa', 350);
    const inside = 234; // 350 minus every third
    const campaignId = await runningCampaign('org_unit', 'fa-in');

    expect(await flagging.flagNextBatch(campaignId)).toBe(true);
    const first = await effects('fa', campaignId);
    expect(first.flagged).toBe(100);
    expect(first.liveSessionsInside).toBe(inside - 100);
    expect(first.unusedLinksInside).toBe(inside - 100);
    expect((await progress.counts(campaignId)).flagged).toBe(100);

    await flagging.flagRemaining(campaignId);
    expect(await effects('fa', campaignId)).toEqual({
      flagged: inside,
      flaggedOutside: 0,
      passwordsChanged: 0,
      expired: 0,
      liveSessionsInside: 0,
      liveSessionsOutside: 350 - inside,
      unusedLinksInside: 0,
      unusedLinksOutside: 350 - inside,
      usedLinksRevoked: 0,
    });
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
    expect((await progress.counts(campaignId)).flagged).toBe(inside);
    const campaign = await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } });
    expect(campaign.flaggingDoneAt).toBeInstanceOf(Date);
    expect(await flagging.flagNextBatch(campaignId)).toBe(false);
  });

  it('leaves nothing of a batch that failed, and a rerun or a replay from the start counts nobody twice', async () => {
    await seed('fb', 350);
    const inside = 234;
    const campaignId = await runningCampaign('org_unit', 'fb-in');
    expect(await flagging.flagNextBatch(campaignId)).toBe(true);
    const cursor = (await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).launchCursor;

    // The next batch dies half-way through its statement (as if the worker's connection dropped): nothing of it stays.
    const [victim] = await t.prisma.$queryRawUnsafe<{ id: number }[]>(
      `SELECT id FROM accounts WHERE username LIKE 'fb%' AND org_unit = 'fb-in' AND id > $1 ORDER BY id OFFSET 50 LIMIT 1`,
      cursor,
    );
    await t.prisma.$executeRawUnsafe(`CREATE FUNCTION fb_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$`);
    await t.prisma.$executeRawUnsafe(
      `CREATE TRIGGER fb_fail BEFORE UPDATE ON sessions FOR EACH ROW WHEN (OLD.account_id = ${victim.id}) EXECUTE FUNCTION fb_fail()`,
    );
    await expect(flagging.flagNextBatch(campaignId)).rejects.toThrow(/injected/);
    await t.prisma.$executeRawUnsafe('DROP TRIGGER fb_fail ON sessions');
    await t.prisma.$executeRawUnsafe('DROP FUNCTION fb_fail');
    expect((await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).launchCursor).toBe(cursor);
    const afterFailure = await effects('fb', campaignId);
    expect(afterFailure).toMatchObject({ flagged: 100, liveSessionsInside: inside - 100, unusedLinksInside: inside - 100 });
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));

    await flagging.flagRemaining(campaignId);
    // A replay from the start (cursor lost) flags nobody twice.
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { launchCursor: 0, flaggingDoneAt: null } });
    await flagging.flagRemaining(campaignId);
    expect(await effects('fb', campaignId)).toMatchObject({ flagged: inside, flaggedOutside: 0, passwordsChanged: 0, liveSessionsInside: 0, unusedLinksInside: 0 });
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
    expect((await progress.counts(campaignId)).flagged).toBe(inside);
  });

  it('flags a usernames scope and revokes only those accounts’ sessions and links', async () => {
    await seed('fd', 30);
    const campaignId = await runningCampaign('usernames');
    const names = ['fd2', 'fd5', 'fd30'];
    await t.prisma.campaignScopeUsername.createMany({ data: names.map((username) => ({ campaignId, username })) });
    await flagging.flagRemaining(campaignId);
    const flagged = await t.prisma.account.findMany({ where: { username: { startsWith: 'fd' }, mustReset: true }, select: { username: true } });
    expect(flagged.map((a) => a.username).sort()).toEqual([...names].sort());
    expect(await t.prisma.session.count({ where: { account: { username: { startsWith: 'fd' } }, revokedAt: { not: null } } })).toBe(3);
    expect(await t.prisma.resetToken.count({ where: { account: { username: { startsWith: 'fd' } }, revokedAt: { not: null } } })).toBe(3);
    expect(await progress.recount(campaignId)).toMatchObject({ flagged: 3 });
    expect(await progress.counts(campaignId)).toEqual(await progress.recount(campaignId));
  });

  it('keeps flagging while paused and stops for a cancelled campaign', async () => {
    await seed('fc', 350);
    const campaignId = await runningCampaign('org_unit', 'fc-in');
    expect(await flagging.flagNextBatch(campaignId)).toBe(true);
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { status: 'paused' } });
    expect(await flagging.flagNextBatch(campaignId)).toBe(true);
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { status: 'cancelled', cancelledAt: new Date() } });
    expect(await flagging.flagNextBatch(campaignId)).toBe(false);
    expect((await effects('fc', campaignId)).flagged).toBe(200);
    expect(await progress.recount(campaignId)).toMatchObject({ flagged: 200 });
    expect((await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaignId } })).flaggingDoneAt).toBeNull();
  });
});
