import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { csrfMatches, submittedCsrf } from '../common/csrf.js';
import { OperatorSessionsService } from './operator-sessions.service.js';
import { OperatorsService } from './operators.service.js';
import type { AuthenticatedOperator } from './roles.decorator.js';

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Finds the operator behind a request: a bearer token (API clients) or else the dashboard session cookie. */
@Injectable()
export class OperatorAuthenticatorService {
  constructor(
    private readonly operators: OperatorsService,
    private readonly sessions: OperatorSessionsService,
  ) {}

  async authenticate(req: Request): Promise<AuthenticatedOperator | null> {
    const header = req.headers.authorization;
    // A request that presents a token stands or falls by it, whatever cookie the browser also sends.
    if (header) {
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      return token ? this.operators.authenticateToken(token) : null;
    }
    const sessionId: unknown = req.cookies?.[this.sessions.cookieName];
    return typeof sessionId === 'string' ? this.sessions.resolve(sessionId) : null;
  }

  /** Cookie-authenticated writes must carry the session's CSRF token (form field `_csrf` or header X-CSRF-Token). */
  csrfSatisfied(req: Request, operator: AuthenticatedOperator): boolean {
    if (!operator.session || SAFE_METHODS.has(req.method)) return true;
    return csrfMatches(operator.session.csrfToken, submittedCsrf(req));
  }
}

/** The longest `next` the operator sign-in page and form accept. */
export const SIGN_IN_NEXT_MAX_LENGTH = 500;

/** A local path of the operator side, never another origin (`//host`, `/\host`), and short enough for the sign-in form. */
export function isSafeNext(next: string | undefined): next is string {
  return (
    !!next &&
    next.length <= SIGN_IN_NEXT_MAX_LENGTH &&
    /^\/(dashboard|admin\/queues|api\/docs)(?:[/?#]|$)/.test(next) &&
    !/[\\\s]|\/\/|(^|\/)\.\.?(\/|$|[?#])/.test(next)
  );
}

/**
 * Where a browser without an operator session is sent. A path the sign-in form would refuse (too long, or not one
 * it returns to) is left out rather than turned into a 400 there: the operator lands on the dashboard home instead.
 */
export function signInRedirect(originalUrl: string): string {
  return isSafeNext(originalUrl) ? `/operator/sign-in?next=${encodeURIComponent(originalUrl)}` : '/operator/sign-in';
}

/** An HTML GET from a browser (not an API client) is answered with the sign-in page rather than a bare 401. */
export function wantsHtml(req: Request): boolean {
  return SAFE_METHODS.has(req.method) && req.accepts(['json', 'html']) === 'html';
}
