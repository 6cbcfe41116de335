import { describe, expect, it } from 'vitest';
import {
  RACF_DIGITS,
  RACF_LETTERS,
  generateTemporaryPassword,
  isNistTemporary,
  isRacfPassword,
  isRacfPhrase,
} from '../../src/secrets/temporary-password.js';
import { loadConfig } from '../../src/config/app-config.js';
import { PasswordPolicyService } from '../../src/passwords/password-policy.service.js';

const RUNS = 2000;

describe('generateTemporaryPassword', () => {
  it('gives RACF accounts 8 characters from the RACF-safe alphabet, letter first, with a digit and no run of three', () => {
    const safe = new RegExp(`^[${RACF_LETTERS}][${RACF_LETTERS}${RACF_DIGITS}]{7}$`);
    for (let i = 0; i < RUNS; i++) {
      const value = generateTemporaryPassword('racf', 'password', 'jdoe01');
      expect(value).toMatch(safe);
      expect(value).toMatch(/[0-9]/);
      expect(value).not.toMatch(/(.)\1\1/);
      expect(isRacfPassword(value, 'jdoe01')).toBe(true);
    }
  });

  it('gives RACF phrases of 14–100 characters that meet the fixed phrase rules', () => {
    for (let i = 0; i < RUNS; i++) {
      const value = generateTemporaryPassword('racf', 'phrase', 'jdoe01');
      expect(value.length).toBeGreaterThanOrEqual(14);
      expect(value.length).toBeLessThanOrEqual(100);
      expect((value.match(/[A-Za-z]/g) ?? []).length).toBeGreaterThanOrEqual(2);
      expect((value.match(/[^A-Za-z]/g) ?? []).length).toBeGreaterThanOrEqual(2);
      expect(value).not.toMatch(/(.)\1\1/);
      expect(value).not.toContain("'");
      expect(isRacfPhrase(value, 'jdoe01')).toBe(true);
    }
  });

  it('gives NIST accounts a random value of at least 16 characters', () => {
    for (let i = 0; i < RUNS; i++) {
      const value = generateTemporaryPassword('nist', 'password', 'jdoe');
      expect(value.length).toBeGreaterThanOrEqual(16);
      expect(isNistTemporary(value, 'jdoe')).toBe(true);
    }
  });

  it('does not repeat values', () => {
    const seen = new Set(Array.from({ length: RUNS }, () => generateTemporaryPassword('racf')));
    expect(seen.size).toBe(RUNS);
  });

  it('rejects values that break the rules', () => {
    expect(isRacfPassword('1ABCDEFG')).toBe(false);
    expect(isRacfPassword('ABCDEFGH')).toBe(false);
    expect(isRacfPassword('AAAB2CDE')).toBe(false);
    expect(isRacfPassword('ABC2DEFGH')).toBe(false);
    expect(isRacfPassword('JDOE0001', 'jdoe0001')).toBe(false);
    expect(isRacfPhrase('short-12')).toBe(false);
    expect(isRacfPhrase('abc-JDOE01-xyz-123', 'jdoe01')).toBe(false);
    expect(isNistTemporary('fifteen-chars-x')).toBe(false);
  });

  it('gives values the product password policy accepts, for both presets', () => {
    const policy = new PasswordPolicyService(loadConfig({}), undefined as never, undefined as never);
    policy.onModuleInit();
    for (const policyPreset of ['nist', 'racf'] as const) {
      const account = { username: 'jdoe01', email: 'jdoe01@example.org', policyPreset };
      for (let i = 0; i < 500; i++) {
        expect(policy.checkGenerated(generateTemporaryPassword(policyPreset, 'phrase', account.username), account)).toEqual([]);
      }
    }
  });
});
