import { Prisma } from '../generated/prisma/client.js';
import type { CampaignScope } from '../generated/prisma/enums.js';

export interface ScopedCampaign {
  id: number;
  scope: CampaignScope;
  scopeOrgUnit: string | null;
}

/** The WHERE condition on `accounts a` that selects a campaign's scope. */
export function scopeCondition(campaign: ScopedCampaign): Prisma.Sql {
  switch (campaign.scope) {
    case 'all':
      return Prisma.sql`TRUE`;
    case 'org_unit':
      return Prisma.sql`a.org_unit = ${campaign.scopeOrgUnit}`;
    case 'usernames':
      return Prisma.sql`a.username IN (SELECT username FROM campaign_scope_usernames WHERE campaign_id = ${campaign.id})`;
  }
}
