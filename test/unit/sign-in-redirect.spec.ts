import { describe, expect, it } from 'vitest';
import { signInRedirect } from '../../src/operators/operator-authenticator.service.js';

const nextOf = (location: string) => new URL(location, 'http://localhost').searchParams.get('next');

/** The sign-in form's `next` field takes at most 500 characters. */
const SIGN_IN_NEXT_MAX_LENGTH = 500;

describe('signInRedirect', () => {
  it('keeps an operator page the sign-in form accepts, up to the form’s limit', () => {
    expect(signInRedirect('/dashboard/campaigns/7')).toBe(`/operator/sign-in?next=${encodeURIComponent('/dashboard/campaigns/7')}`);
    const longest = `/dashboard/campaigns/7?after=${'1'.repeat(SIGN_IN_NEXT_MAX_LENGTH - '/dashboard/campaigns/7?after='.length)}`;
    expect(longest).toHaveLength(SIGN_IN_NEXT_MAX_LENGTH);
    expect(nextOf(signInRedirect(longest))).toBe(longest);
    expect(nextOf(signInRedirect('/admin/queues/queue/notices'))).toBe('/admin/queues/queue/notices');
  });

  it('drops a `next` longer than the sign-in form takes, which would end on a 400', () => {
    expect(signInRedirect(`/dashboard/campaigns/7?x=${'a'.repeat(SIGN_IN_NEXT_MAX_LENGTH)}`)).toBe('/operator/sign-in');
    expect(signInRedirect(`/dashboard?after=${'1'.repeat(SIGN_IN_NEXT_MAX_LENGTH - '/dashboard?after='.length + 1)}`)).toBe('/operator/sign-in');
  });

  it('drops a `next` the sign-in form would not return to', () => {
    for (const url of ['//evil.example/dashboard', '/\\evil.example', '/dashboard/..//evil.example', '/dashboard?x=//evil.example', '/login', '/reset/abc', '/dashboardx', '']) {
      expect(signInRedirect(url), url).toBe('/operator/sign-in');
    }
  });
});
