import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RestrictedSessionError } from './auth.errors.js';
import { wantsJson } from './page-responder.service.js';
import { SessionsService } from './sessions.service.js';
import { homeOf } from './user-page.decorator.js';

/**
 * UserSessionGuard's rule for pages mounted straight on Express (the OpenAPI UI, bull-board), which Nest guards never
 * see: a pre_reset or password_change session reaches only its own pages, whatever operator token comes with it.
 */
export function restrictedSessionFence(sessions: SessionsService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    sessions.fromRequest(req).then((session) => {
      if (!session || session.kind === 'full') return next();
      res.set('Cache-Control', 'no-store');
      if (req.method === 'GET' && !wantsJson(req)) return res.redirect(303, homeOf(session.kind));
      res.status(403).json({ statusCode: 403, error: 'restricted_session', message: new RestrictedSessionError(session.kind).message });
    }, next);
  };
}
