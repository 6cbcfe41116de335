import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ro-dircfg-'));
const passwordFile = join(dir, 'bind-password');
writeFileSync(passwordFile, 's3rvice secret\n');
const emptyFile = join(dir, 'empty');
writeFileSync(emptyFile, '');
const base = {
  DIRECTORY_URL: 'ldap://127.0.0.1:389',
  DIRECTORY_BIND_DN: 'cn=reset-orchestrator,ou=services,dc=example,dc=org',
  DIRECTORY_BIND_PASSWORD_FILE: passwordFile,
  DIRECTORY_BASE_DN: 'ou=people,dc=example,dc=org',
};

describe('directory settings', () => {
  it('are absent without DIRECTORY_URL', () => {
    expect(loadConfig({}).directory).toBeUndefined();
  });

  it('read the bind password from its file and default to the OpenLDAP schema', () => {
    expect(loadConfig(base).directory).toEqual({
      url: 'ldap://127.0.0.1:389',
      kind: 'openldap',
      bindDn: base.DIRECTORY_BIND_DN,
      bindPassword: 's3rvice secret',
      baseDn: base.DIRECTORY_BASE_DN,
      userFilter: '(objectClass=inetOrgPerson)',
      tlsCa: undefined,
      timeoutMs: 10_000,
      attributes: { username: 'uid', mail: 'mail', displayName: 'cn', orgUnit: 'ou', locale: 'preferredLanguage' },
    });
  });

  it('default to the Active Directory schema for DIRECTORY_KIND=ad, which must use LDAPS', () => {
    const ad = loadConfig({ ...base, DIRECTORY_KIND: 'ad', DIRECTORY_URL: 'ldaps://dc1.example.org' }).directory!;
    expect(ad.userFilter).toBe('(&(objectCategory=person)(objectClass=user))');
    expect(ad.attributes).toEqual({ username: 'sAMAccountName', mail: 'mail', displayName: 'displayName', orgUnit: 'department', locale: 'preferredLanguage' });
    expect(() => loadConfig({ ...base, DIRECTORY_KIND: 'ad' })).toThrow('Active Directory sets passwords over LDAPS only');
  });

  it('refuse what would not work or would leak, in plain words', () => {
    expect(() => loadConfig({ ...base, DIRECTORY_URL: 'http://dc1' })).toThrow('DIRECTORY_URL: expected ldap://host[:port] or ldaps://host[:port]');
    expect(() => loadConfig({ DIRECTORY_URL: base.DIRECTORY_URL })).toThrow(
      'DIRECTORY_BIND_DN: required with DIRECTORY_URL; DIRECTORY_BIND_PASSWORD_FILE: required with DIRECTORY_URL; DIRECTORY_BASE_DN: required with DIRECTORY_URL',
    );
    expect(() => loadConfig({ DIRECTORY_BASE_DN: 'dc=x' })).toThrow('DIRECTORY_URL: required when any other DIRECTORY_ setting is given');
    expect(() => loadConfig({ ...base, DIRECTORY_BIND_PASSWORD_FILE: join(dir, 'missing') })).toThrow('DIRECTORY_BIND_PASSWORD_FILE: cannot read');
    expect(() => loadConfig({ ...base, DIRECTORY_BIND_PASSWORD_FILE: emptyFile })).toThrow('is empty');
    expect(() => loadConfig({ ...base, DIRECTORY_USER_FILTER: 'objectClass=person' })).toThrow('DIRECTORY_USER_FILTER: expected an LDAP filter');
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', DIRECTORY_URL: 'ldap://dc1.example.org' })).toThrow('would send every password in clear');
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).directory?.url).toBe('ldap://127.0.0.1:389');
  });
});
