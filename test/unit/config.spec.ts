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

  it('parses durations', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('24h')).toBe(86400);
    expect(() => parseDuration('soon')).toThrow(/duration/);
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
});
