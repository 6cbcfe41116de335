import { describe, expect, it } from 'vitest';
import { normaliseLocale } from '../../src/accounts/import/account-record.js';
import { keycloakHash, ldapPassword, parseFieldMap } from '../../src/accounts/import/presets.js';
import { jsonUserObjects, ldifEntries } from '../../src/accounts/import/structured-readers.js';

async function* chunks(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}
async function all<T>(source: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const batch of source) out.push(...batch);
  return out;
}

describe('JSON user objects', () => {
  const realm = '{\n "realm": "x",\n "users": [\n  {"username": "a", "note": "} ] { \\" users"},\n  {"username": "b", "attributes": {"users": ["z"]}}\n ],\n "clients": [{"users": [{"username": "no"}]}]\n}';

  it.each([1, 3, 7, 1000])('reads only the top-level users, with their lines, in chunks of %i characters', async (size) => {
    const records = await all(jsonUserObjects(chunks(realm, size), 65536));
    expect(records).toEqual([
      { line: 4, value: { username: 'a', note: '} ] { " users' } },
      { line: 5, value: { username: 'b', attributes: { users: ['z'] } } },
    ]);
  });

  it('reads a top-level array and refuses a document that ends early or has no users', async () => {
    expect(await all(jsonUserObjects(chunks('[{"username":"a"},{"username":"b"}]', 5), 65536))).toHaveLength(2);
    await expect(all(jsonUserObjects(chunks('{"users": [{"username":"a"}', 4), 65536))).rejects.toThrow(/ends before it is complete/);
    await expect(all(jsonUserObjects(chunks('{"realm": "x"}', 4), 65536))).rejects.toThrow(/no user list found/);
    await expect(all(jsonUserObjects(chunks(`[{"username":"${'x'.repeat(200)}"}]`, 16), 100))).rejects.toThrow(/line 1: a user object is longer than 100 bytes/);
  });
});

describe('LDIF entries', () => {
  it('unfolds lines, decodes base64, skips comments and the version line, and refuses change records', async () => {
    const ldif = 'version: 1\n\n# people\ndn: uid=a,ou=x\nuid: a\ncn: Long\n  Name\nmail:: YUBleGFtcGxlLm9yZw==\n\ndn: uid=b\nchangetype: delete\n\ndn: uid=c\nuid: c';
    const entries = await all(ldifEntries(chunks(ldif, 4), 65536));
    expect(entries).toEqual([
      { line: 4, value: { dn: 'uid=a,ou=x', attributes: new Map([['uid', ['a']], ['cn', ['Long Name']], ['mail', ['a@example.org']]]) } },
      { line: 10, value: { error: 'an LDIF change record, not an entry' } },
      { line: 13, value: { dn: 'uid=c', attributes: new Map([['uid', ['c']]]) } },
    ]);
  });
});

describe('export conversions', () => {
  it('turns LDAP userPassword schemes into stored hashes', () => {
    expect(ldapPassword('{ssha}abc')).toEqual({ passwordHash: '{SSHA}abc' });
    expect(ldapPassword('{CRYPT}$2b$10$x')).toEqual({ passwordHash: '$2b$10$x' });
    expect(ldapPassword('{CRYPT}$6$salt$x')).toEqual({ error: 'userPassword {CRYPT} other than bcrypt ($2a$/$2b$/$2y$) cannot be verified here' });
    expect(ldapPassword('{PBKDF2-SHA256}1000$a.b$c.d')).toEqual({ passwordHash: '$pbkdf2-sha256$i=1000$a+b$c+d' });
    expect(ldapPassword('plain text')).toEqual({ password: 'plain text' });
  });

  it('turns a Keycloak credential into a stored hash, and refuses unknown algorithms', () => {
    const secretData = JSON.stringify({ value: 'AAAAAAAAAAAAAAAAAAAAAA==', salt: 'AQEBAQEBAQEBAQEBAQEBAQ==' });
    expect(keycloakHash({ secretData, credentialData: JSON.stringify({ hashIterations: 27500, algorithm: 'pbkdf2-sha256' }) })).toEqual({
      passwordHash: '$pbkdf2-sha256$i=27500$AQEBAQEBAQEBAQEBAQEBAQ$AAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(keycloakHash({ secretData, credentialData: JSON.stringify({ hashIterations: 1, algorithm: 'md5' }) })).toEqual({
      error: 'Keycloak password algorithm "md5" cannot be verified here',
    });
  });

  it('parses --map with templates and refuses unknown targets', () => {
    expect(parseFieldMap("username=login,displayName='{firstName} {lastName}',orgUnit=department")).toEqual(
      new Map<string, unknown>([
        ['username', { column: 'login' }],
        ['displayName', { template: '{firstName} {lastName}', columns: ['firstName', 'lastName'] }],
        ['orgUnit', { column: 'department' }],
      ]),
    );
    expect(() => parseFieldMap('shoeSize=size')).toThrow(/unknown target "shoeSize"/);
    expect(() => parseFieldMap("displayName='{a}")).toThrow(/not closed/);
  });

  it.each([['fr_FR', 'fr-FR'], ['de-de', 'de-DE'], ['en_US.UTF-8', 'en-US'], ['EN', 'en'], ['zh_Hant_TW', 'zh-Hant-TW']])('normalises the locale %s to %s', (raw, locale) => {
    expect(normaliseLocale(raw)).toBe(locale);
  });
});
