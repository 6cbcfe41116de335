import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { OperatorAuthenticatorService, SAFE_METHODS, signInRedirect, wantsHtml } from './operator-authenticator.service.js';
import { UNAUTHENTICATED_MESSAGE } from './operator-auth.guard.js';
import { roleAllowed } from './roles.decorator.js';

/**
 * The same role check as OperatorAuthGuard for pages mounted straight on Express (bull-board, the OpenAPI UI).
 * Their forms cannot carry our CSRF token, so a cookie-authenticated write must come from this origin (Fetch Metadata).
 */
export function operatorAccess(authenticator: OperatorAuthenticatorService, roles: readonly OperatorRole[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    authenticator.authenticate(req).then((operator) => {
      if (!operator) {
        if (wantsHtml(req)) return res.redirect(303, signInRedirect(req.originalUrl));
        return res.status(401).json({ statusCode: 401, message: UNAUTHENTICATED_MESSAGE });
      }
      if (!roleAllowed(operator.role, roles)) return res.status(403).json({ statusCode: 403, message: `this page needs the role ${roles.join(' or ')}` });
      const site = req.headers['sec-fetch-site'];
      if (operator.session && !SAFE_METHODS.has(req.method) && site !== 'same-origin') {
        return res.status(403).json({ statusCode: 403, message: 'cross-site request refused' });
      }
      Object.assign(req, { operator });
      next();
    }, next);
  };
}
