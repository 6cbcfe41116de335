import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration } from '../../src/config/app-config.js';
import { EnvFileError, withEnvFile } from '../../src/config/env-file.js';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const config = loadConfig({});
    expect(config.database.url).toBe('postgresql://postgres@127.0.0.1:5432/reset_orchestrator');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.mail.smtpUrl).toBeUndefined();
    expect(config.role).toBe('all');
    expect(config.http.secureCookies).toBe(false);
  });

  it('marks cookies secure when the public URL is https', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://reset.example.org/' }).http).toMatchObject({ secureCookies: true, publicUrl: 'https://reset.example.org' });
  });

  it('names every invalid setting in one error', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x', PORT: 'abc', ROLE: 'both' })).toThrowError(ConfigError);
    try {
      loadConfig({ DATABASE_URL: 'mysql://x', PORT: 'abc', ROLE: 'both' });
    } catch (err) {
      expect((err as Error).message).toMatch(/DATABASE_URL.*PORT|PORT.*DATABASE_URL/s);
      expect((err as Error).message).toContain('ROLE');
    }
  });

  it('takes the CLI audit actor from SUDO_USER or USER, keeping only the characters of a login name', () => {
    expect(loadConfig({ USER: 'alice' }).cliActor).toBe('cli:alice');
    expect(loadConfig({ USER: 'alice', SUDO_USER: 'bob.smith' }).cliActor).toBe('cli:bob.smith');
    expect(loadConfig({}).cliActor).toBe('cli:unknown');
    expect(loadConfig({ USER: '' }).cliActor).toBe('cli:unknown');
    expect(loadConfig({ USER: 'operator:admin' }).cliActor).toBe('cli:operator_admin');
    expect(loadConfig({ USER: 'mallory\n{"actor":"operator:admin"}' }).cliActor).toBe('cli:mallory___actor___operator_admin__');
    expect(loadConfig({ USER: 'x'.repeat(500) }).cliActor).toBe(`cli:${'x'.repeat(64)}`);
  });

  it('takes the organisation, help desk and time zone users see, and refuses an unknown zone', () => {
    expect(loadConfig({}).audience).toEqual({ organisation: undefined, helpdesk: undefined, timeZone: 'UTC' });
    expect(loadConfig({ ORGANISATION_NAME: ' Acme ', HELPDESK_CONTACT: '+1 555 0100', TIME_ZONE: 'Europe/Berlin' }).audience).toEqual({
      organisation: 'Acme',
      helpdesk: '+1 555 0100',
      timeZone: 'Europe/Berlin',
    });
    expect(() => loadConfig({ TIME_ZONE: 'Mars/Olympus' })).toThrowError(/TIME_ZONE: not a time zone name/);
  });

  it('parses durations', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('24h')).toBe(86400);
    expect(() => parseDuration('soon')).toThrow(/duration/);
  });

  it('trusts no proxy by default, and takes a hop count, names and CIDR lists in Express syntax', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback' }).http.trustProxy).toEqual(['loopback']);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.1,fd00::/8' }).http.trustProxy).toEqual(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);
  });

  it('refuses a TRUST_PROXY that trusts every hop or is not an address', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrowError(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrowError(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.internal' })).toThrowError(/TRUST_PROXY/);
    expect(() => loadConfig({ TRUST_PROXY: '0' })).toThrowError(/TRUST_PROXY/);
  });

  it('reads LIMIT_NETWORKS as network:limit pairs, IPv6 included', () => {
    expect(loadConfig({ LIMIT_NETWORKS: '10.20.0.0/16:1000, fd00:1::/32:200' }).limits.networks).toEqual([
      { network: '10.20.0.0/16', address: '10.20.0.0', prefix: 16, family: 'ipv4', loginFailuresPerIp: 1000 },
      { network: 'fd00:1::/32', address: 'fd00:1::', prefix: 32, family: 'ipv6', loginFailuresPerIp: 200 },
    ]);
    expect(loadConfig({}).limits.networks).toEqual([]);
    expect(() => loadConfig({ LIMIT_NETWORKS: '10.20.0.0/16' })).toThrowError(/LIMIT_NETWORKS/);
    expect(() => loadConfig({ LIMIT_NETWORKS: '10.20.0.0/16:0' })).toThrowError(/LIMIT_NETWORKS/);
    expect(() => loadConfig({ LIMIT_NETWORKS: 'office:100' })).toThrowError(/LIMIT_NETWORKS/);
  });

  it('takes the DKIM settings all together or not at all', () => {
    expect(loadConfig({}).mail.dkim).toBeUndefined();
    expect(loadConfig({ DKIM_DOMAIN: 'example.org', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY_FILE: '/k.pem' }).mail.dkim).toEqual({
      domain: 'example.org',
      selector: 's1',
      privateKeyFile: '/k.pem',
    });
    expect(() => loadConfig({ DKIM_DOMAIN: 'example.org', DKIM_SELECTOR: 's1' })).toThrowError(/DKIM_DOMAIN.*together/);
  });

  it('reads the bounce settings: a listener on loopback by default, the IMAP URL split, STARTTLS required off loopback', () => {
    expect(loadConfig({}).bounces).toBeUndefined();
    expect(loadConfig({ BOUNCE_DOMAIN: 'Bounces.Example.org', BOUNCE_SMTP_PORT: '2525' }).bounces).toEqual({
      domain: 'bounces.example.org',
      smtp: { host: '127.0.0.1', port: 2525 },
      imap: undefined,
    });
    expect(loadConfig({ BOUNCE_DOMAIN: 'bounces.example.org', BOUNCE_IMAP_URL: 'imap://bounce%40corp:p%2Fss@mail.corp.example:143/Bounces' }).bounces?.imap).toEqual({
      host: 'mail.corp.example',
      port: 143,
      secure: false,
      requireStartTls: true,
      user: 'bounce@corp',
      password: 'p/ss',
      mailbox: 'Bounces',
      intervalSeconds: 60,
    });
    expect(loadConfig({ BOUNCE_DOMAIN: 'bounces.example.org', BOUNCE_IMAP_URL: 'imaps://u:p@mail.corp.example', BOUNCE_IMAP_INTERVAL: '5m' }).bounces?.imap).toMatchObject({
      port: 993, secure: true, requireStartTls: false, mailbox: 'INBOX', intervalSeconds: 300,
    });
    expect(loadConfig({ BOUNCE_DOMAIN: 'bounces.example.org', BOUNCE_IMAP_URL: 'imap://u:p@127.0.0.1:1143' }).bounces?.imap?.requireStartTls).toBe(false);
    expect(() => loadConfig({ BOUNCE_SMTP_PORT: '2525' })).toThrowError(/BOUNCE_DOMAIN: required/);
    expect(() => loadConfig({ BOUNCE_DOMAIN: 'bounces.example.org', BOUNCE_IMAP_URL: 'imap://mail.corp.example/INBOX' })).toThrowError(/BOUNCE_IMAP_URL/);
    expect(() => loadConfig({ BOUNCE_DOMAIN: 'not a domain' })).toThrowError(/BOUNCE_DOMAIN/);
  });
});

describe('the configuration file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ro-config-'));
  const file = path.join(dir, 'service.env');
  writeFileSync(file, '# comment\nPORT=4100\nMAIL_FROM="Corp Security <sec@corp.example>"\nROLE=worker\n');

  it('supplies what the environment does not set; the environment wins', () => {
    const config = loadConfig(withEnvFile({ RESET_ORCHESTRATOR_ENV: file, ROLE: 'api' }));
    expect(config.http.port).toBe(4100);
    expect(config.mail.from).toBe('Corp Security <sec@corp.example>');
    expect(config.role).toBe('api');
  });

  it('is optional at the default path and required where RESET_ORCHESTRATOR_ENV points', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(withEnvFile({ PORT: '1' })).toEqual({ PORT: '1' });
    } finally {
      process.chdir(cwd);
    }
    expect(() => withEnvFile({ RESET_ORCHESTRATOR_ENV: path.join(dir, 'missing.env') })).toThrowError(EnvFileError);
  });
});
