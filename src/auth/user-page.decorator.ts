import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { SessionKind } from '../generated/prisma/enums.js';

export const USER_PAGE_KEY = 'userPage';

export interface UserPageRule {
  /** The session kinds that may reach the route (anonymous visitors too unless `required`). */
  sessions: SessionKind[];
  required?: boolean;
  /** Form posts: `session` checks the session's synchronizer token, `login` the pre-session double-submit token. */
  csrf?: 'session' | 'login';
}

/**
 * Declares an end-user route and the sessions it admits. Every route without it refuses the restricted
 * kinds (pre_reset, password_change): a restricted session reaches only what names its kind here.
 */
export const UserPage = (rule: UserPageRule) => SetMetadata(USER_PAGE_KEY, rule);

export interface ActiveSession {
  idHash: string;
  accountId: number;
  username: string;
  kind: SessionKind;
  csrfToken: string;
}

export type RequestWithSession = { userSession?: ActiveSession };

export const CurrentSession = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): ActiveSession | undefined => ctx.switchToHttp().getRequest<RequestWithSession>().userSession,
);

/** Where each session kind belongs. */
export function homeOf(kind: SessionKind | undefined): string {
  if (kind === 'pre_reset') return '/pre-reset';
  if (kind === 'password_change') return '/password/change';
  if (kind === 'full') return '/account';
  return '/login';
}
