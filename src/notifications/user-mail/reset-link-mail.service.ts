import { Inject, Injectable, Logger } from '@nestjs/common';
import { hasReachableEmail } from '../../accounts/reachable-email.js';
import { AuditService } from '../../audit/audit.service.js';
import { newOpaqueToken, sha256Hex } from '../../common/tokens.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MailTransportService } from '../../mail/mail-transport.service.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { CampaignProgressService } from '../../progress/campaign-progress.service.js';
import { describeDuration } from '../../templates/locale.js';
import { linkTtlMinutes } from './reset-tokens.js';
import { UserMailRendererService } from './user-mail-renderer.service.js';

export type ResetLinkOutcome = 'sent' | 'not-eligible';

/**
 * Creates a reset token and mails its link. The token row, the revocation of older links and the campaign
 * progress commit together, under the account's row lock, before the mail goes out; a retried job simply issues a
 * newer link that replaces it.
 */
@Injectable()
export class ResetLinkMailService {
  private readonly logger = new Logger(ResetLinkMailService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly audit: AuditService,
    private readonly renderer: UserMailRendererService,
    private readonly mail: MailTransportService,
    private readonly metrics: MetricsService,
  ) {}

  async send(accountId: number): Promise<ResetLinkOutcome> {
    const token = newOpaqueToken();
    const issued = await this.prisma.$transaction(async (tx) => {
      // One issuer at a time per account: two at once would each revoke only the links committed before them, and
      // leave both of theirs usable.
      await tx.$queryRaw`SELECT id FROM accounts WHERE id = ${accountId} FOR UPDATE`;
      const account = await tx.account.findUnique({ where: { id: accountId } });
      // The database decides: a reset that completed (or a campaign cancelled) after the request sends nothing.
      if (!account?.mustReset || !hasReachableEmail(account)) return null;
      const campaign = account.mustResetCampaignId ? await tx.campaign.findUnique({ where: { id: account.mustResetCampaignId } }) : null;
      const ttl = linkTtlMinutes(campaign?.linkTtlMinutes);
      const now = new Date();
      await tx.resetToken.updateMany({ where: { accountId, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
      const row = await tx.resetToken.create({
        data: { tokenHash: sha256Hex(token), accountId, campaignId: campaign?.id ?? null, createdAt: now, expiresAt: new Date(now.getTime() + ttl * 60_000) },
      });
      if (campaign) await this.progress.advance(tx, campaign.id, [accountId], 'link_sent');
      await this.audit.record(tx, {
        actor: `user:${account.username}`,
        action: 'reset-link.issue',
        campaignId: campaign?.id ?? null,
        details: { accountId, tokenId: row.id, ttlMinutes: ttl },
      });
      return { account, campaign, ttl, linkId: row.id };
    });
    if (!issued) {
      this.logger.log(`reset link for account ${accountId} not sent: the account no longer needs one or has no verified email`);
      return 'not-eligible';
    }
    const { account, campaign, ttl, linkId } = issued;
    const rendered = this.renderer.render(
      'reset-link',
      account,
      { lifetime: describeDuration(ttl, account.locale), phrase: campaign?.phrase },
      `${this.config.http.publicUrl}/reset/${token}`,
    );
    await this.mail.send({ to: account.email!, ...rendered, messageId: `<reset-link-${linkId}@reset-orchestrator>` });
    this.metrics.resetLinksMailed.inc();
    this.logger.log(`link ${linkId} mailed to account ${accountId}`);
    return 'sent';
  }
}
