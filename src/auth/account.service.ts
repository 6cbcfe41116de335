import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service.js';
import type { Outcome } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import type { ActiveSession } from './user-page.decorator.js';

/** The small signed-in page and sign-out. */
@Injectable()
export class AccountService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly sessions: SessionsService,
  ) {}

  async page(session: ActiveSession): Promise<Outcome> {
    const account = await this.prisma.account.findUniqueOrThrow({
      where: { id: session.accountId },
      select: { username: true, displayName: true, passwordChangedAt: true },
    });
    const vars = { username: account.username, displayName: account.displayName ?? account.username, passwordChangedAt: account.passwordChangedAt?.toISOString() };
    return { page: 'account', title: 'Your account', vars: { ...vars, csrf: session.csrfToken }, json: { ...vars, csrfToken: session.csrfToken } };
  }

  async logout(session?: ActiveSession): Promise<Outcome> {
    if (session) await this.sessions.revoke(session.idHash);
    return { redirect: '/login?notice=signed-out', session: null, json: { signedOut: true } };
  }
}
