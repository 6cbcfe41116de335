import { timingSafeEqual } from 'node:crypto';
import type { CookieOptions, Request, Response } from 'express';
import { isOpaqueToken, newOpaqueToken, sha256Hex } from './tokens.js';

/**
 * CSRF for every form and script of both sides (user pages, operator pages, the sign-in forms): a form posts the token
 * as `_csrf`, a script sends it as `X-CSRF-Token`. Session pages check the session's own token; forms posted before
 * there is a session check the one pre-session double-submit cookie.
 */
export function submittedCsrf(req: Request): string | undefined {
  const header = req.get('x-csrf-token');
  const field: unknown = (req.body as Record<string, unknown> | undefined)?._csrf;
  return header ?? (typeof field === 'string' ? field : undefined);
}

/** Compared as SHA-256 digests, so neither the content nor the length of the expected token shows in the timing. */
export function csrfMatches(expected: unknown, submitted: unknown): boolean {
  if (typeof expected !== 'string' || typeof submitted !== 'string' || !expected || !submitted) return false;
  return timingSafeEqual(Buffer.from(sha256Hex(expected), 'hex'), Buffer.from(sha256Hex(submitted), 'hex'));
}

/** The pre-session token of the user and operator sign-in forms, so nobody can sign a browser in to an account of theirs. */
export class PreSessionCsrf {
  readonly cookieName: string;

  constructor(private readonly secure: boolean) {
    // __Host- pins the cookie to this origin and path; browsers only accept it over https.
    this.cookieName = secure ? '__Host-ro_login_csrf' : 'ro_login_csrf';
  }

  private cookieOptions(): CookieOptions {
    return { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/' };
  }

  /** The browser's token if it has a well-formed one, else a new one set as its cookie. */
  issue(req: Request, res: Response): string {
    const existing: unknown = req.cookies?.[this.cookieName];
    if (isOpaqueToken(existing)) return existing;
    const token = newOpaqueToken();
    res.cookie(this.cookieName, token, this.cookieOptions());
    return token;
  }

  matches(req: Request): boolean {
    return csrfMatches(req.cookies?.[this.cookieName], submittedCsrf(req));
  }

  /** After a sign-in, so the next form starts with a new token. */
  clear(res: Response): void {
    res.clearCookie(this.cookieName, this.cookieOptions());
  }
}
