import { Inject, Injectable, Logger } from '@nestjs/common';
import { signInKind } from '../accounts/sign-in-kind.js';
import { HANDOFF_TOKEN_PATTERN, HANDOFF_TTL_MS, type IssuedHandoff, handoffKey } from '../common/gate-handoff.js';
import { allowedReturnTo } from '../common/return-to.js';
import { sha256Hex } from '../common/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { RedisService } from '../redis/redis.module.js';
import type { Outcome } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import { type ActiveSession, homeOf } from './user-page.decorator.js';

const INVALID_HANDOFF: Outcome = {
  page: 'reset-invalid',
  title: 'Link not valid',
  status: 410,
  vars: { message: 'This sign-in link has expired or was already used. Sign in again at your application.' },
  json: { error: 'handoff_invalid' },
};

/**
 * The browser side of the gate: an application redirects the user here with a one-time handoff token, which starts
 * the same restricted session this product's own sign-in starts; after the change the user goes back to returnTo.
 */
@Injectable()
export class HandoffService {
  private readonly logger = new Logger(HandoffService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly sessions: SessionsService,
    private readonly redis: RedisService,
  ) {}

  async open(token: string, current?: ActiveSession): Promise<Outcome> {
    if (!HANDOFF_TOKEN_PATTERN.test(token)) return INVALID_HANDOFF;
    // The one atomic use: of any number of concurrent opens, exactly one gets the value.
    const value = await this.redis.getdel(handoffKey(this.config.redis.queuePrefix, token));
    if (!value) return INVALID_HANDOFF;
    const issued = JSON.parse(value) as IssuedHandoff;
    const account = await this.prisma.account.findUnique({ where: { id: issued.accountId }, include: { application: { select: { id: true, enabled: true } } } });
    // The account must still belong to the application, and the application still be enabled.
    if (!account || account.application?.id !== issued.applicationId || !account.application.enabled) return INVALID_HANDOFF;
    const handoff = await this.prisma.gateHandoff.create({
      data: {
        tokenHash: sha256Hex(token),
        accountId: account.id,
        applicationId: issued.applicationId,
        returnTo: issued.returnTo,
        createdAt: new Date(issued.issuedAt),
        expiresAt: new Date(issued.issuedAt + HANDOFF_TTL_MS),
        usedAt: new Date(),
      },
    });
    const kind = signInKind(account, this.config.passwords.expiryDays);
    if (kind === 'full') return this.done(handoff.id, 'Nothing to change', 'Your password does not need to be changed.');
    if (current) await this.sessions.revoke(current.idHash);
    const sessionId = await this.sessions.create(account.id, kind);
    await this.prisma.gateHandoff.update({ where: { id: handoff.id }, data: { sessionIdHash: sha256Hex(sessionId) } });
    this.logger.log(`account ${account.id} handed over by its application (${kind} session)`);
    return { redirect: homeOf(kind), session: sessionId };
  }

  /**
   * Where the user goes after choosing a new password: back to the application when this browser's session came from
   * a handoff (returnTo, only on a registered origin), else null (this product's own sign-in page).
   */
  async afterChange(session: ActiveSession): Promise<Outcome | null> {
    const handoff = await this.prisma.gateHandoff.findUnique({ where: { sessionIdHash: session.idHash }, select: { id: true } });
    return handoff ? this.done(handoff.id, 'Password changed', 'Your password was changed. Sign in to your application with the new password.') : null;
  }

  private async done(handoffId: number, title: string, message: string): Promise<Outcome> {
    const handoff = await this.prisma.gateHandoff.findUniqueOrThrow({
      where: { id: handoffId },
      select: { returnTo: true, application: { select: { name: true, returnOrigins: true } } },
    });
    const returnTo = allowedReturnTo(handoff.application.returnOrigins, handoff.returnTo);
    // A page with a link rather than a 303: the form that got here may only submit to this origin (CSP form-action).
    return {
      page: 'gate-done',
      title,
      session: null,
      vars: { message, returnTo, application: handoff.application.name },
      json: { changed: title === 'Password changed', returnTo },
    };
  }
}
