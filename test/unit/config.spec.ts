import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration } from '../../src/config/app-config.js';

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
});
