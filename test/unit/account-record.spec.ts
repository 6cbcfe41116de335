import { describe, expect, it } from 'vitest';
import { checkHeader, parseAccountRecord } from '../../src/accounts/import/account-record.js';

const base = { username: 'Alice', email: 'alice@example.org', displayName: 'Alice', orgUnit: 'fin', locale: 'en', emailVerified: 'true', password: '' };

describe('checkHeader', () => {
  it('accepts the documented header with either password column', () => {
    expect(checkHeader(['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified', 'password'])).toBeNull();
    expect(checkHeader(['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified', 'passwordHash', 'policyPreset'])).toBeNull();
  });
  it.each([
    [['username', 'email'], /missing columns displayName, orgUnit, locale, emailVerified/],
    [['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified'], /exactly one of the columns password/],
    [['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified', 'password', 'passwordHash'], /exactly one/],
    [['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified', 'password', 'ssn'], /unknown column "ssn"/],
    [['username', 'username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified', 'password'], /appears twice/],
  ])('refuses %j', (columns, message) => {
    expect(checkHeader(columns)).toMatch(message);
  });
});

describe('parseAccountRecord', () => {
  it('normalises the username to lower case and reads the flags', () => {
    const result = parseAccountRecord(base);
    expect(result).toEqual({
      ok: true,
      record: expect.objectContaining({ username: 'alice', emailVerified: true, password: null, passwordHash: null, locale: 'en' }),
    });
  });

  it.each([
    ['"Alice" <alice@example.org>', 'display-name form'],
    ['alice@example.org, mallory@evil.example', 'two addresses'],
    ['alice@localhost', 'no domain dot'],
    ['alice @example.org', 'space'],
    ['<alice@example.org>', 'angle brackets'],
  ])('refuses the email %s (%s)', (email) => {
    const result = parseAccountRecord({ ...base, email });
    expect(result.ok).toBe(false);
  });

  it('reports every problem of a line at once', () => {
    const result = parseAccountRecord({ ...base, username: 'bad user', locale: 'english', emailVerified: 'maybe' });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain('username may only contain');
      expect(result.reason).toContain('locale');
      expect(result.reason).toContain('emailVerified');
    }
  });

  it('accepts argon2 and bcrypt hashes and refuses anything else', () => {
    const bcrypt = '$2b$10$' + 'a'.repeat(53);
    const argon = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG';
    expect(parseAccountRecord({ ...base, password: undefined, passwordHash: bcrypt }).ok).toBe(true);
    expect(parseAccountRecord({ ...base, password: undefined, passwordHash: argon }).ok).toBe(true);
    expect(parseAccountRecord({ ...base, password: undefined, passwordHash: '5f4dcc3b5aa765d61d8327deb882cf99' }).ok).toBe(false);
  });

  it('refuses control and bidi-override characters in names', () => {
    expect(parseAccountRecord({ ...base, displayName: 'Bob\u202Egnp.exe' }).ok).toBe(false);
    expect(parseAccountRecord({ ...base, displayName: 'Bob\u0007' }).ok).toBe(false);
  });
});
