import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { type Campaign, Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import { isOpenState } from '../progress/progress-states.js';
import { scopeCondition } from './campaign-scope.js';

type Tx = Prisma.TransactionClient;
type FlaggingState = Pick<Campaign, 'id' | 'status' | 'scope' | 'scopeOrgUnit' | 'launchCursor' | 'flaggingDoneAt'>;

/**
 * Flagging and un-flagging in bounded, set-based batches by account id. Each batch is one transaction that also moves
 * the campaign's cursor, so a crash loses at most the batch in flight and a rerun continues after the cursor.
 */
@Injectable()
export class CampaignFlaggingService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private lock(tx: Tx, campaignId: number): Promise<FlaggingState[]> {
    return tx.$queryRaw<FlaggingState[]>(Prisma.sql`
      SELECT id, status, scope, scope_org_unit AS "scopeOrgUnit", launch_cursor AS "launchCursor", flagging_done_at AS "flaggingDoneAt"
      FROM campaigns WHERE id = ${campaignId} FOR UPDATE`);
  }

  /**
   * Flags the next batch of the scope: adds the accounts to the campaign, sets must-reset (the password is never
   * touched), revokes their sessions and unused reset links, and advances launch_cursor. Returns false when done.
   */
  async flagNextBatch(campaignId: number): Promise<boolean> {
    return this.prisma.$transaction(
      async (tx) => {
        const [campaign] = await this.lock(tx, campaignId);
        if (!campaign || campaign.flaggingDoneAt || (campaign.status !== 'running' && campaign.status !== 'paused')) return false;
        const scope = scopeCondition(campaign);
        const [range] = await tx.$queryRaw<{ upto: number | null }[]>(Prisma.sql`
          SELECT max(id) AS upto FROM (
            SELECT a.id FROM accounts a WHERE a.id > ${campaign.launchCursor} AND ${scope} ORDER BY a.id LIMIT ${this.config.campaigns.flagBatchSize}
          ) batch`);
        if (range?.upto == null) {
          const counts = await this.progress.counts(campaignId, tx);
          await tx.campaign.update({ where: { id: campaignId }, data: { flaggingDoneAt: new Date() } });
          await this.audit.record(tx, {
            actor: 'system',
            action: 'campaign.flagged',
            campaignId,
            details: { accounts: Object.values(counts).reduce((a, b) => a + b, 0) },
          });
          return false;
        }
        const from = campaign.launchCursor;
        const upto = range.upto;
        // One statement per batch, every part bounded by the id range (an index range scan), so the sessions and
        // reset links are found from their own account_id index and cost nothing when an account has none.
        const inBatch = (id: Prisma.Sql) => Prisma.sql`${id} > ${from} AND ${id} <= ${upto}`;
        const inScope = (id: Prisma.Sql) => Prisma.sql`EXISTS (SELECT 1 FROM accounts a WHERE a.id = ${id} AND ${scope})`;
        await this.progress.flag(tx, campaignId, Prisma.sql`SELECT a.id FROM accounts a WHERE ${inBatch(Prisma.sql`a.id`)} AND ${scope}`, [
          Prisma.sql`UPDATE accounts a SET must_reset = true, must_reset_campaign_id = ${campaignId}, updated_at = now()
            WHERE ${inBatch(Prisma.sql`a.id`)} AND ${scope}`,
          Prisma.sql`UPDATE sessions s SET revoked_at = now()
            WHERE ${inBatch(Prisma.sql`s.account_id`)} AND s.revoked_at IS NULL AND ${inScope(Prisma.sql`s.account_id`)}`,
          Prisma.sql`UPDATE reset_tokens t SET revoked_at = now()
            WHERE ${inBatch(Prisma.sql`t.account_id`)} AND t.used_at IS NULL AND t.revoked_at IS NULL AND ${inScope(Prisma.sql`t.account_id`)}`,
          Prisma.sql`UPDATE campaigns SET launch_cursor = ${upto}, updated_at = now() WHERE id = ${campaignId}`,
        ]);
        return true;
      },
      { maxWait: 10_000, timeout: 120_000 },
    );
  }

  /** Flags the rest of the scope, batch after batch; `afterBatch` runs between batches (to start notices early). */
  async flagRemaining(campaignId: number, afterBatch?: () => Promise<void>): Promise<void> {
    while (await this.flagNextBatch(campaignId)) await afterBatch?.();
  }

  /**
   * Moves the campaign's open accounts to `cancelled` in batches and, with `clearMustReset`, lifts must-reset from
   * accounts that have not reset yet (unless another running campaign still wants them) and revokes their unused
   * reset links. Idempotent: a rerun finishes what an interrupted one left.
   */
  async unflag(campaignId: number, clearMustReset: boolean): Promise<{ cancelled: number; cleared: number }> {
    const result = { cancelled: 0, cleared: 0 };
    let after = 0;
    for (;;) {
      const done = await this.prisma.$transaction(
        async (tx) => {
          const ids = (
            await tx.$queryRaw<{ account_id: number }[]>(Prisma.sql`
              SELECT account_id FROM campaign_accounts WHERE campaign_id = ${campaignId} AND account_id > ${after}
              ORDER BY account_id LIMIT ${this.config.campaigns.flagBatchSize}`)
          ).map((r) => r.account_id);
          if (!ids.length) return true;
          after = ids[ids.length - 1];
          result.cancelled += (await this.progress.advance(tx, campaignId, ids, 'cancelled')).length;
          if (!clearMustReset) return false;
          const cleared = await tx.$queryRaw<{ id: number }[]>(Prisma.sql`
            WITH targets AS (
              SELECT a.id, (
                SELECT ca2.campaign_id FROM campaign_accounts ca2 JOIN campaigns c2 ON c2.id = ca2.campaign_id
                WHERE ca2.account_id = a.id AND ca2.campaign_id <> ${campaignId}
                  AND c2.status IN ('running', 'paused') AND ${isOpenState('ca2.state')}
                ORDER BY ca2.campaign_id DESC LIMIT 1
              ) AS other
              FROM accounts a JOIN campaign_accounts ca ON ca.account_id = a.id AND ca.campaign_id = ${campaignId}
              WHERE a.id = ANY(${ids}::int[]) AND a.must_reset_campaign_id = ${campaignId} AND ca.state <> 'completed'
              FOR UPDATE OF a
            )
            UPDATE accounts a SET must_reset = (t.other IS NOT NULL), must_reset_campaign_id = t.other, updated_at = now()
            FROM targets t WHERE a.id = t.id
            RETURNING a.id`);
          const clearedIds = cleared.map((r) => r.id);
          result.cleared += clearedIds.length;
          await tx.$executeRaw(Prisma.sql`
            UPDATE reset_tokens SET revoked_at = now()
            WHERE account_id = ANY(${clearedIds}::int[]) AND used_at IS NULL AND revoked_at IS NULL`);
          return false;
        },
        { maxWait: 10_000, timeout: 120_000 },
      );
      if (done) return result;
    }
  }
}
