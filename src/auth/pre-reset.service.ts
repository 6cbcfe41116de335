import { Inject, Injectable } from '@nestjs/common';
import { hasReachableEmail } from '../accounts/reachable-email.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { UserMailService } from '../notifications/user-mail/user-mail.service.js';
import { describeMinutes, linkTtlMinutes, maskEmail } from '../notifications/user-mail/reset-tokens.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { CampaignProgressService } from '../progress/campaign-progress.service.js';
import type { Outcome } from './page-responder.service.js';
import { RateLimiterService, minutesText } from '../rate-limit/rate-limiter.service.js';
import type { ActiveSession } from './user-page.decorator.js';

/** The page a must-reset account lands on after a correct password: why, and one button that mails a link. */
@Injectable()
export class PreResetService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly progress: CampaignProgressService,
    private readonly limiter: RateLimiterService,
    private readonly userMail: UserMailService,
  ) {}

  async page(session: ActiveSession, sent: boolean): Promise<Outcome> {
    const view = await this.prisma.$transaction(async (tx) => {
      const account = await tx.account.findUniqueOrThrow({ where: { id: session.accountId } });
      const campaign = account.mustResetCampaignId ? await tx.campaign.findUnique({ where: { id: account.mustResetCampaignId } }) : null;
      if (campaign) await this.progress.advance(tx, campaign.id, [account.id], 'pre_reset');
      return { account, campaign };
    });
    return this.render(session, view, { sent });
  }

  async sendLink(session: ActiveSession, ip: string): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({ where: { id: session.accountId } });
    const campaign = account.mustResetCampaignId ? await this.prisma.campaign.findUnique({ where: { id: account.mustResetCampaignId } }) : null;
    if (!hasReachableEmail(account)) return this.render(session, { account, campaign }, { status: 409 });
    const limited = await this.limiter.consume([
      { key: this.limiter.key('reset-link-account', String(account.id)), max: this.config.limits.resetLinksPerAccount },
      { key: this.limiter.key('reset-link-ip', ip), max: this.config.limits.resetLinksPerIp },
    ]);
    if (!limited.allowed) {
      const wait = minutesText(limited.retryAfterSeconds);
      const error = limited.limit.key.includes(':reset-link-account:')
        ? `You have already asked for ${this.config.limits.resetLinksPerAccount} links in the last ${minutesText(this.config.limits.windowSeconds)}. Use the newest email we sent, or ask again in ${wait}.`
        : `Too many links were asked for from your network. Try again in ${wait}.`;
      return this.render(session, { account, campaign }, { status: 429, error });
    }
    await this.userMail.requestResetLink(account.id);
    return { redirect: '/pre-reset?sent=1', json: { sent: true } };
  }

  private render(
    session: ActiveSession,
    { account, campaign }: { account: { email: string | null; emailVerified: boolean; username: string }; campaign: { reason: string; phrase: string; linkTtlMinutes: number } | null },
    options: { sent?: boolean; status?: number; error?: string },
  ): Outcome {
    const canSendLink = hasReachableEmail(account);
    const vars = {
      username: account.username,
      reason: campaign?.reason ?? 'Your password has to be changed before you can continue.',
      phrase: campaign?.phrase,
      canSendLink,
      maskedEmail: canSendLink ? maskEmail(account.email!) : undefined,
      lifetime: describeMinutes(linkTtlMinutes(campaign?.linkTtlMinutes)),
      sent: options.sent && canSendLink,
      error: options.error,
      csrf: session.csrfToken,
    };
    const { csrf, ...json } = vars;
    return { page: 'pre-reset', title: 'Change your password', status: options.status, vars, json: { ...json, csrfToken: csrf } };
  }
}
