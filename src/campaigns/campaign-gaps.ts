import { CAN_REACH_PRE_RESET, REACHES_BY_DIRECTORY, REACHES_BY_GATE, REACHES_BY_OWN_SIGN_IN } from '../accounts/account-reach.js';
import { REACHABLE_EMAIL } from '../accounts/reachable-email.js';
import { Prisma } from '../generated/prisma/client.js';
import { type ScopedCampaign, scopeCondition } from './campaign-scope.js';

type Db = Pick<Prisma.TransactionClient, '$queryRaw'>;

/**
 * Who a campaign would leave out without anyone deciding to, each as its own number (an account may be in several).
 * `launch` refuses while any is non-zero unless the responder accepts them.
 */
export interface CampaignGaps {
  /** Usernames on the campaign's list that match no account. */
  unknownUsernames: number;
  /** Accounts in scope nobody can sign in to: no password this product checks, no application gate, no directory. */
  cannotReachPreReset: number;
  disabled: number;
  withoutVerifiedEmail: number;
}

/** How the accounts in scope that can reach the pre-reset page get there (with cannotReachPreReset, they add up to the scope). */
export interface PreResetPaths {
  ownSignIn: number;
  gate: number;
  directory: number;
}

export function hasGaps(gaps: CampaignGaps): boolean {
  return Object.values(gaps).some((n) => n > 0);
}

/** The usernames of a campaign's list with no account, as a FROM clause on `campaign_scope_usernames s`. */
export function unknownUsernamesFrom(campaignId: number): Prisma.Sql {
  return Prisma.sql`FROM campaign_scope_usernames s WHERE s.campaign_id = ${campaignId}
    AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.username = s.username)`;
}

/** The accounts in scope and the gaps: one pass over the scope, one over the list (usernames scope only). */
export async function scopeCounts(db: Db, campaign: ScopedCampaign): Promise<{ inScope: number; gaps: CampaignGaps; paths: PreResetPaths }> {
  const [{ inScope, ownSignIn, gate, directory, ...counts }] = await db.$queryRaw<Array<Omit<CampaignGaps, 'unknownUsernames'> & PreResetPaths & { inScope: number }>>(Prisma.sql`
    SELECT count(*)::int AS "inScope",
           count(*) FILTER (WHERE ${REACHES_BY_OWN_SIGN_IN})::int AS "ownSignIn",
           count(*) FILTER (WHERE ${REACHES_BY_GATE})::int AS gate,
           count(*) FILTER (WHERE ${REACHES_BY_DIRECTORY})::int AS directory,
           count(*) FILTER (WHERE NOT ${CAN_REACH_PRE_RESET})::int AS "cannotReachPreReset",
           count(*) FILTER (WHERE a.disabled)::int AS disabled,
           count(*) FILTER (WHERE NOT ${REACHABLE_EMAIL})::int AS "withoutVerifiedEmail"
    FROM accounts a WHERE ${scopeCondition(campaign)}`);
  let unknownUsernames = 0;
  if (campaign.scope === 'usernames') {
    [{ n: unknownUsernames }] = await db.$queryRaw<{ n: number }[]>(Prisma.sql`SELECT count(*)::int AS n ${unknownUsernamesFrom(campaign.id)}`);
  }
  return { inScope, gaps: { unknownUsernames, ...counts }, paths: { ownSignIn, gate, directory } };
}

/** The non-zero gaps in words, for the refusal and the CLI. */
export function describeGaps(gaps: CampaignGaps): string {
  const parts = [
    [gaps.unknownUsernames, 'usernames on the list match no account'],
    [gaps.cannotReachPreReset, 'accounts cannot reach the pre-reset page (no password here, no application, no directory)'],
    [gaps.disabled, 'accounts are disabled'],
    [gaps.withoutVerifiedEmail, 'accounts have no verified email'],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join('; ');
}
