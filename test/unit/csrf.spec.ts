import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { PreSessionCsrf, csrfMatches, submittedCsrf } from '../../src/common/csrf.js';

const TOKEN = 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1';

function request(parts: { header?: string; field?: unknown; cookies?: Record<string, string> }): Request {
  return {
    get: (name: string) => (name.toLowerCase() === 'x-csrf-token' ? parts.header : undefined),
    body: parts.field === undefined ? {} : { _csrf: parts.field },
    cookies: parts.cookies ?? {},
  } as unknown as Request;
}

describe('csrfMatches', () => {
  it('matches only the same non-empty string', () => {
    expect(csrfMatches(TOKEN, TOKEN)).toBe(true);
    expect(csrfMatches(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(csrfMatches(TOKEN, TOKEN.slice(1))).toBe(false);
    expect(csrfMatches('', '')).toBe(false);
    expect(csrfMatches(undefined, undefined)).toBe(false);
    expect(csrfMatches(TOKEN, [TOKEN])).toBe(false);
    expect(csrfMatches(TOKEN, undefined)).toBe(false);
  });
});

describe('submittedCsrf', () => {
  it('reads the X-CSRF-Token header, else the _csrf form field, and only strings', () => {
    expect(submittedCsrf(request({ header: 'h', field: 'f' }))).toBe('h');
    expect(submittedCsrf(request({ field: 'f' }))).toBe('f');
    expect(submittedCsrf(request({ field: ['f'] }))).toBeUndefined();
    expect(submittedCsrf(request({}))).toBeUndefined();
  });
});

describe('PreSessionCsrf', () => {
  it('is one double-submit cookie, __Host- pinned and Secure over https', () => {
    expect(new PreSessionCsrf(false).cookieName).toBe('ro_login_csrf');
    expect(new PreSessionCsrf(true).cookieName).toBe('__Host-ro_login_csrf');
  });

  it('keeps a well-formed token the browser has, sets a new one otherwise, and matches the echo', () => {
    const csrf = new PreSessionCsrf(true);
    const set: Array<[string, string, Record<string, unknown>]> = [];
    const res = { cookie: (name: string, value: string, options: Record<string, unknown>) => set.push([name, value, options]) } as unknown as Response;
    expect(csrf.issue(request({ cookies: { '__Host-ro_login_csrf': TOKEN } }), res)).toBe(TOKEN);
    expect(set).toEqual([]);
    const fresh = csrf.issue(request({ cookies: { '__Host-ro_login_csrf': 'short' } }), res);
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(set).toEqual([['__Host-ro_login_csrf', fresh, { httpOnly: true, sameSite: 'lax', secure: true, path: '/' }]]);
    expect(csrf.matches(request({ cookies: { '__Host-ro_login_csrf': TOKEN }, field: TOKEN }))).toBe(true);
    expect(csrf.matches(request({ cookies: { '__Host-ro_login_csrf': TOKEN }, field: fresh }))).toBe(false);
    expect(csrf.matches(request({ field: TOKEN }))).toBe(false);
  });
});
