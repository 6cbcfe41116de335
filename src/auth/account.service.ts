import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { formatDateTime } from '../templates/locale.js';
import type { Outcome } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import type { ActiveSession } from './user-page.decorator.js';

/** The small signed-in page and sign-out. */
@Injectable()
export class AccountService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly sessions: SessionsService,
  ) {}

  async page(session: ActiveSession): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({
      where: { id: session.accountId },
      select: { username: true, displayName: true, passwordChangedAt: true, locale: true },
    });
    const vars = { username: account.username, displayName: account.displayName ?? account.username };
    const changedAt = account.passwordChangedAt;
    return {
      page: 'account',
      title: 'Your account',
      locale: account.locale,
      vars: { ...vars, passwordChangedAt: changedAt && formatDateTime(changedAt, account.locale, this.config.audience.timeZone), csrf: session.csrfToken },
      json: { ...vars, passwordChangedAt: changedAt?.toISOString(), csrfToken: session.csrfToken },
    };
  }

  async logout(session?: ActiveSession): Promise<Outcome> {
    if (session) await this.sessions.revoke(session.idHash);
    return { redirect: '/login?notice=signed-out', session: null, json: { signedOut: true } };
  }
}
