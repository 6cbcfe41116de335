import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { PreSessionCsrf } from '../common/csrf.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isSafeNext } from './operator-authenticator.service.js';
import { OperatorSessionsService, SignInThrottledException } from './operator-sessions.service.js';
import { CurrentOperator, Roles, type AuthenticatedOperator } from './roles.decorator.js';
import { TemplatesService } from '../templates/templates.service.js';
import { DashboardPageFilter } from './dashboard-page.filter.js';
import { SignInFormDto, SignInPageQueryDto, SignOutFormDto } from './dto/sign-in.dto.js';

function safeNext(next: string | undefined): string {
  return isSafeNext(next) ? next : '/dashboard';
}

@ApiExcludeController()
@Controller('operator')
export class OperatorSignInController {
  /** The same pre-session token as the user sign-in form. */
  private readonly csrf: PreSessionCsrf;

  constructor(
    private readonly sessions: OperatorSessionsService,
    private readonly templates: TemplatesService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.csrf = new PreSessionCsrf(config.http.secureCookies);
  }

  private render(req: Request, res: Response, status: number, next: string, error?: string, username?: string) {
    const csrf = this.csrf.issue(req, res);
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).type('html').send(this.templates.renderPage('operator-login', { title: 'Operator sign-in', csrf, next, error, username }));
  }

  @Get('sign-in')
  page(@Query() query: SignInPageQueryDto, @Req() req: Request, @Res() res: Response) {
    this.render(req, res, 200, safeNext(query.next));
  }

  @Post('sign-in')
  async signIn(@Body() form: SignInFormDto, @Req() req: Request, @Res() res: Response) {
    const next = safeNext(form.next);
    if (!this.csrf.matches(req)) {
      return this.render(req, res, 403, next, 'The sign-in form expired. Please try again.', form.username);
    }
    try {
      const presented: unknown = req.cookies?.[this.sessions.deviceCookieName];
      const client = { address: req.ip ?? 'unknown', device: typeof presented === 'string' ? presented : undefined };
      const { sessionId, device } = await this.sessions.signIn(form.username ?? '', form.password ?? '', client);
      this.csrf.clear(res);
      res.cookie(this.sessions.cookieName, sessionId, this.sessions.cookieOptions());
      if (device) res.cookie(this.sessions.deviceCookieName, device, this.sessions.deviceCookieOptions());
      res.redirect(303, next);
    } catch (err) {
      if (err instanceof SignInThrottledException) {
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
        return this.render(req, res, 429, next, 'Too many sign-in attempts. Wait a few minutes and try again.', form.username);
      }
      if ((err as { status?: number }).status === 401) return this.render(req, res, 401, next, 'Unknown operator or wrong password.', form.username);
      throw err;
    }
  }

  @Post('sign-out')
  @HttpCode(303)
  @Roles('admin', 'responder', 'manager')
  @UseFilters(DashboardPageFilter)
  async signOut(@Body() _form: SignOutFormDto, @CurrentOperator() operator: AuthenticatedOperator, @Res() res: Response) {
    await this.sessions.signOut(operator);
    res.clearCookie(this.sessions.cookieName, this.sessions.cookieOptions());
    res.redirect(303, '/operator/sign-in');
  }
}
