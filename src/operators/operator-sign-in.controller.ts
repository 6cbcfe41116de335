import { Body, Controller, Get, HttpCode, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { newOpaqueToken } from '../common/tokens.js';
import { isSafeNext } from './operator-authenticator.service.js';
import { OperatorSessionsService, SignInThrottledException } from './operator-sessions.service.js';
import { CurrentOperator, Roles, type AuthenticatedOperator } from './roles.decorator.js';
import { TemplatesService } from '../templates/templates.service.js';
import { DashboardPageFilter } from './dashboard-page.filter.js';
import { SignInFormDto, SignInPageQueryDto, SignOutFormDto } from './dto/sign-in.dto.js';

/** Pre-session CSRF token for the sign-in form (double-submit cookie), so nobody can sign a browser in to their account. */
const SIGN_IN_CSRF_COOKIE = 'ro_operator_sign_in';

function safeNext(next: string | undefined): string {
  return isSafeNext(next) ? next : '/dashboard';
}

@ApiExcludeController()
@Controller('operator')
export class OperatorSignInController {
  constructor(
    private readonly sessions: OperatorSessionsService,
    private readonly templates: TemplatesService,
  ) {}

  private render(res: Response, status: number, next: string, error?: string, username?: string) {
    const csrf = newOpaqueToken();
    res.cookie(SIGN_IN_CSRF_COOKIE, csrf, { ...this.sessions.cookieOptions(), maxAge: 30 * 60_000 });
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).type('html').send(this.templates.renderPage('operator-login', { title: 'Operator sign-in', csrf, next, error, username }));
  }

  @Get('sign-in')
  page(@Query() query: SignInPageQueryDto, @Res() res: Response) {
    this.render(res, 200, safeNext(query.next));
  }

  @Post('sign-in')
  async signIn(@Body() form: SignInFormDto, @Req() req: Request, @Res() res: Response) {
    const next = safeNext(form.next);
    const expected: unknown = req.cookies?.[SIGN_IN_CSRF_COOKIE];
    if (typeof expected !== 'string' || !form._csrf || expected !== form._csrf) {
      return this.render(res, 403, next, 'The sign-in form expired. Please try again.', form.username);
    }
    try {
      const { sessionId } = await this.sessions.signIn(form.username ?? '', form.password ?? '', req.ip ?? 'unknown');
      res.clearCookie(SIGN_IN_CSRF_COOKIE, { path: '/' });
      res.cookie(this.sessions.cookieName, sessionId, this.sessions.cookieOptions());
      res.redirect(303, next);
    } catch (err) {
      if (err instanceof SignInThrottledException) {
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
        return this.render(res, 429, next, 'Too many sign-in attempts. Wait a few minutes and try again.', form.username);
      }
      if ((err as { status?: number }).status === 401) return this.render(res, 401, next, 'Unknown operator or wrong password.', form.username);
      throw err;
    }
  }

  @Post('sign-out')
  @HttpCode(303)
  @Roles('admin', 'responder', 'manager')
  @UseFilters(DashboardPageFilter)
  async signOut(@Body() _form: SignOutFormDto, @CurrentOperator() operator: AuthenticatedOperator, @Res() res: Response) {
    await this.sessions.signOut(operator);
    res.clearCookie(this.sessions.cookieName, { path: '/' });
    res.redirect(303, '/operator/sign-in');
  }
}
