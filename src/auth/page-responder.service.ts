import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { LANGUAGES, languageOf } from '../templates/locale.js';
import { TemplatesService } from '../templates/templates.service.js';
import { SessionsService } from './sessions.service.js';

/** What a user-flow service decided; the responder turns it into HTML, JSON, a redirect and cookies. */
export type Outcome = (
  | {
      page: string;
      title: string;
      status?: number;
      vars?: Record<string, unknown>;
      /** The JSON answer for `Accept: application/json`; defaults to `vars`. */
      json?: Record<string, unknown>;
      /** The page carries a sign-in form, which needs the pre-session CSRF token. */
      loginForm?: boolean;
      /** The account's locale; without one the page follows the browser's Accept-Language. */
      locale?: string | null;
    }
  | { redirect: string; json?: Record<string, unknown> }
) & {
  /** A new session id to hand to the browser, or null to clear the cookie. */
  session?: string | null;
  /** A new known-device token (a successful sign-in) for the browser's device cookie. */
  device?: string;
};

/** Who is signing in, as the request tells: its address and the known-device cookie, if any. */
export interface SignInRequest {
  ip: string;
  device?: string;
}

export function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json';
}

@Injectable()
export class PageResponderService {
  constructor(
    private readonly templates: TemplatesService,
    private readonly sessions: SessionsService,
  ) {}

  send(req: Request, res: Response, outcome: Outcome): void {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Referrer-Policy': 'no-referrer', 'X-Robots-Tag': 'noindex, nofollow' });
    if (outcome.session) res.cookie(this.sessions.cookieName, outcome.session, this.sessions.cookieOptions());
    else if (outcome.session === null) res.clearCookie(this.sessions.cookieName, this.sessions.cookieOptions());
    if (outcome.device) res.cookie(this.sessions.deviceCookieName, outcome.device, this.sessions.deviceCookieOptions());
    const json = wantsJson(req);

    if ('redirect' in outcome) {
      if (json) res.status(200).json({ ...outcome.json, redirect: outcome.redirect });
      else res.redirect(303, outcome.redirect);
      return;
    }
    const lang = languageOf(outcome.locale ?? (req.acceptsLanguages(...LANGUAGES) || undefined));
    const vars: Record<string, unknown> = { ...outcome.vars, lang, title: this.templates.message(lang, `title.${outcome.page}`) ?? outcome.title };
    if (outcome.loginForm) vars.loginCsrf = this.sessions.loginCsrf.issue(req, res);
    res.status(outcome.status ?? 200);
    if (json) res.json({ ...(outcome.json ?? outcome.vars), ...(outcome.loginForm ? { csrfToken: vars.loginCsrf } : {}) });
    else res.type('html').send(this.templates.renderPage(outcome.page, vars));
  }

  /** Who the request says is signing in: its address and its known-device cookie (the other half of `outcome.device`). */
  signInRequest(req: Request): SignInRequest {
    const device: unknown = req.cookies?.[this.sessions.deviceCookieName];
    return { ip: req.ip ?? '', device: typeof device === 'string' ? device : undefined };
  }
}
