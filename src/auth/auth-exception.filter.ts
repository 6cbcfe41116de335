import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TemplatesService } from '../templates/templates.service.js';
import { CsrfError, NotForThisSessionError, RestrictedSessionError, SignInRequiredError } from './auth.errors.js';
import { wantsJson } from './page-responder.service.js';
import { homeOf } from './user-page.decorator.js';

type AuthError = RestrictedSessionError | SignInRequiredError | NotForThisSessionError | CsrfError;

/** Browsers navigating get sent where they belong; forms and scripts get a status and a plain message. */
@Catch(RestrictedSessionError, SignInRequiredError, NotForThisSessionError, CsrfError)
export class AuthExceptionFilter implements ExceptionFilter {
  constructor(private readonly templates: TemplatesService) {}

  catch(error: AuthError, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const [status, code, home] =
      error instanceof RestrictedSessionError
        ? [403, 'restricted_session', homeOf(error.kind)]
        : error instanceof NotForThisSessionError
          ? [403, 'not_available', homeOf(error.kind)]
          : error instanceof SignInRequiredError
            ? [401, 'sign_in_required', '/login']
            : [403, 'csrf_failed', undefined];
    res.set('Cache-Control', 'no-store');
    if (home && req.method === 'GET' && !wantsJson(req)) return res.redirect(303, home);
    if (wantsJson(req)) {
      res.status(status).json({ statusCode: status, error: code, message: error.message });
      return;
    }
    res.status(status).type('html').send(this.templates.renderPage('auth-error', { title: 'Not available', message: error.message, home }));
  }
}
