import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { signInRedirect, wantsHtml } from './operator-authenticator.service.js';
import { TemplatesService } from '../templates/templates.service.js';

/**
 * Errors on dashboard routes, for people rather than API clients: a browser without a session is sent to the
 * sign-in page (303), other errors get a plain HTML page with the same status. JSON/CSV clients get Nest's JSON.
 */
@Catch(HttpException)
export class DashboardPageFilter implements ExceptionFilter {
  constructor(private readonly templates: TemplatesService) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const status = exception.getStatus();
    if (!wantsHtml(req)) {
      res.status(status).json(exception.getResponse());
      return;
    }
    if (status === 401) {
      res.redirect(303, signInRedirect(req.originalUrl));
      return;
    }
    const body = exception.getResponse();
    const message = typeof body === 'string' ? body : String((body as { message?: unknown }).message ?? exception.message);
    res
      .status(status)
      .type('html')
      .send(this.templates.renderPage('dashboard-error', { title: `${status} · Reset dashboard`, status, message }));
  }
}
