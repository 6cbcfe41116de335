import { Inject, Injectable } from '@nestjs/common';
import { canonicalUsername } from '../../accounts/identity.js';
import { signInKind } from '../../accounts/sign-in-kind.js';
import { HANDOFF_PATH, HANDOFF_TTL_MS, type IssuedHandoff, handoffKey } from '../../common/gate-handoff.js';
import { allowedReturnTo } from '../../common/return-to.js';
import { newOpaqueToken } from '../../common/tokens.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { RedisService } from '../../redis/redis.module.js';
import type { AuthenticatedApplication } from '../applications/applications.service.js';
import type { GateDecisionDto, GateSignInDto } from './dto/gate-sign-in.dto.js';

const CONTINUE: GateDecisionDto = Object.freeze({ decision: 'continue' });

/**
 * The question an application asks after it has verified a user's password itself: may it sign the user in, or must
 * it hand the browser to the reset flow? An unknown user, another application's user and a user who is fine all get
 * the same `continue` after the same single lookup, so the answer tells the caller nothing it did not know.
 */
@Injectable()
export class GateService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly metrics: MetricsService,
  ) {}

  async signIn(application: AuthenticatedApplication, body: GateSignInDto): Promise<GateDecisionDto> {
    const decision = await this.decide(application, body);
    this.metrics.gateDecisions.inc({ decision: decision.decision });
    return decision;
  }

  private async decide(application: AuthenticatedApplication, body: GateSignInDto): Promise<GateDecisionDto> {
    const username = canonicalUsername(body.username);
    const account = username
      ? await this.prisma.account.findUnique({
          where: { username },
          select: { id: true, applicationId: true, disabled: true, mustReset: true, passwordExpired: true, passwordChangedAt: true },
        })
      : null;
    if (!account || account.applicationId !== application.id || account.disabled) return CONTINUE;
    const kind = signInKind(account, this.config.passwords.expiryDays);
    if (kind === 'full') return CONTINUE;

    const token = newOpaqueToken();
    const issuedAt = Date.now();
    const expiresAt = new Date(issuedAt + HANDOFF_TTL_MS);
    const issued: IssuedHandoff = { accountId: account.id, applicationId: application.id, returnTo: allowedReturnTo(application.returnOrigins, body.returnTo), issuedAt };
    await this.redis.set(handoffKey(this.config.redis.queuePrefix, token), JSON.stringify(issued), 'PX', HANDOFF_TTL_MS);
    const handoffUrl = `${this.config.http.publicUrl}${HANDOFF_PATH}${token}`;
    return kind === 'pre_reset'
      ? { decision: 'pre_reset', handoffUrl, expiresAt: expiresAt.toISOString() }
      : { decision: 'password_change', handoffUrl, expiresAt: expiresAt.toISOString(), passwordExpired: account.passwordExpired };
  }
}
