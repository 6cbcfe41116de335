import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { csrfMatches, submittedCsrf } from '../common/csrf.js';
import { CsrfError, NotForThisSessionError, RestrictedSessionError, SignInRequiredError } from './auth.errors.js';
import { SessionsService } from './sessions.service.js';
import { USER_PAGE_KEY, type RequestWithSession, type UserPageRule } from './user-page.decorator.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Runs on every route. Resolves the end-user session, keeps restricted sessions (pre_reset, password_change)
 * inside their allow-list, enforces @UserPage's session requirement and checks CSRF tokens on form posts.
 */
@Injectable()
export class UserSessionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request & RequestWithSession>();
    const rule = this.reflector.getAllAndOverride<UserPageRule | undefined>(USER_PAGE_KEY, [context.getHandler(), context.getClass()]);
    const session = await this.sessions.fromRequest(req);
    req.userSession = session;

    if (session && session.kind !== 'full' && !rule?.sessions.includes(session.kind)) throw new RestrictedSessionError(session.kind);
    if (!rule) return true;
    if (session && !rule.sessions.includes(session.kind)) throw new NotForThisSessionError(session.kind);
    if (!session && rule.required) throw new SignInRequiredError();

    if (!SAFE_METHODS.has(req.method)) {
      const satisfied = rule.csrf === 'login' ? this.sessions.loginCsrf.matches(req) : !session || csrfMatches(session.csrfToken, submittedCsrf(req));
      if (!satisfied) throw new CsrfError();
    }
    return true;
  }
}
