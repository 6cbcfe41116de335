import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { dictionary } from '@zxcvbn-ts/language-common';
import { caseVariants, checkSyntax, describePreset, type PolicyOptions, type PolicySubject } from '../../src/passwords/password-policy.js';
import { loadConfig } from '../../src/config/app-config.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { CaseFoldedPasswordService } from '../../src/passwords/case-folded-password.service.js';
import { PasswordPolicyService, type PolicyAccount, readBlocklist } from '../../src/passwords/password-policy.service.js';
import type { PrismaService } from '../../src/prisma/prisma.service.js';
import { tempFile } from '../support/factories.js';

const options: PolicyOptions = {
  racfRelaxed: false,
  commonPasswords: new Set(dictionary['passwords-common'].map((p) => p.toLowerCase())),
  blocklist: new Set(['winter-is-coming-2024']),
};
const nist: PolicySubject = { username: 'jdoe', email: 'john.doe@example.org', preset: 'nist' };
const racf: PolicySubject = { username: 'ibmuser', email: null, preset: 'racf' };
const rules = (password: string, subject: PolicySubject, opts = options) => checkSyntax(password, subject, opts).map((f) => f.rule);

describe('nist preset', () => {
  it('accepts a long passphrase with no composition rules', () => {
    expect(rules('correct horse battery staple', nist)).toEqual([]);
    expect(rules('alllowercaseletters', nist)).toEqual([]);
  });

  it('enforces 12 to 128 characters, counting characters rather than bytes', () => {
    expect(rules('elevenchars', nist)).toEqual(['min-length']);
    expect(rules('ünïcödé-ök12', nist)).toEqual([]);
    expect(rules('x'.repeat(129), nist)).toEqual(['max-length']);
  });

  it('refuses common and blocklisted passwords case-insensitively', () => {
    expect(rules('QWERTY123456', nist)).toEqual(['common-password']);
    expect(rules('Winter-Is-Coming-2024', nist)).toEqual(['blocklisted']);
  });

  it('refuses the username and the email local part', () => {
    expect(rules('my name is JDOE and more', nist)).toEqual(['contains-username']);
    expect(rules('John.Doe forever and ever', nist)).toEqual(['contains-email']);
  });

  it('lists every broken rule at once, each in plain words', () => {
    const failures = checkSyntax('jdoe', nist, options);
    expect(failures.map((f) => f.rule)).toEqual(['min-length', 'contains-username']);
    expect(failures[0].message).toBe('Use at least 12 characters (this one has 4).');
  });
});

describe('racf preset', () => {
  it('accepts a phrase that follows the RACF rules', () => {
    expect(rules('Blue sky over 42 hills', racf)).toEqual([]);
  });

  it('enforces 14 to 100 characters, or 9 with the relaxed option', () => {
    expect(rules('ab 12 cd 34', racf)).toEqual(['min-length']);
    expect(rules('ab 12 cd 34', racf, { ...options, racfRelaxed: true })).toEqual([]);
    expect(rules(`${'ab1 '.repeat(25)}x`, racf)).toEqual(['max-length']);
  });

  it('needs 2 letters and 2 non-letters, no triple repeats and no user id', () => {
    expect(rules('12345678901234!', racf)).toEqual(['min-alphabetic']);
    expect(rules('abcdefghijklmnop1', racf)).toEqual(['min-non-alphabetic']);
    expect(rules('aaa bbb 12 cd ef', racf)).toEqual(['repeated-characters']);
    expect(rules('aa bb 12 cd ef', racf)).toEqual([]);
    expect(rules('my IBMUSER phrase 12', racf)).toEqual(['contains-user-id']);
    expect(rules('a1', racf)).toEqual(['min-length', 'min-alphabetic', 'min-non-alphabetic']);
  });

  it('does not apply the nist dictionary', () => {
    expect(rules('1qaz2wsx3edc4rfv', racf)).toEqual([]);
  });
});

describe('helpers', () => {
  it('describes each preset in sentences', () => {
    expect(describePreset('nist', false)[0]).toContain('12 to 128 characters');
    expect(describePreset('racf', true)[0]).toContain('9 to 100 characters');
  });

  it('derives the case variants a user typically tries', () => {
    expect(caseVariants('Summer Time')).toEqual(['Summer Time', 'summer time', 'SUMMER TIME', 'sUMMER tIME', 'Summer time']);
  });

  it('reads a blocklist file, ignoring blanks and comments', async () => {
    const file = await tempFile('# leaked in INC-7\nHunter2Hunter2\n\n  Spring2024!!  \n', 'txt');
    expect([...readBlocklist(file)]).toEqual(['hunter2hunter2', 'spring2024!!']);
    expect(readBlocklist(undefined).size).toBe(0);
    await writeFile(file, '');
  });
});

describe('PasswordPolicyService', () => {
  const hasher = new PasswordHasherService();

  async function setUp(history: string[], env: Record<string, string> = {}) {
    const config = loadConfig({ PASSWORD_HISTORY: '2', ...env });
    const hashes = await Promise.all(history.map((p) => hasher.hash(p)));
    const prisma = { passwordHistory: { findMany: async ({ take }: { take: number }) => hashes.slice(0, take).map((passwordHash) => ({ passwordHash })) } };
    const service = new PasswordPolicyService(config, prisma as unknown as PrismaService, hasher, new CaseFoldedPasswordService(config));
    service.onModuleInit();
    return service;
  }

  const account = async (current: string, changedAgoMs = 86_400_000): Promise<PolicyAccount> => ({
    id: 1,
    username: 'mallory',
    email: 'm@example.org',
    policyPreset: 'nist',
    passwordHash: await hasher.hash(current),
    passwordChangedAt: new Date(Date.now() - changedAgoMs),
  });

  it('refuses the current password with any case change when sign-in kept its case-folded hash', async () => {
    const service = await setUp([]);
    const current = await account('Purple Rain Falls Down');
    // The service's own CaseFoldedPasswordService has a random key (no SECRET_ENCRYPTION_KEY): seal with a twin of it.
    const key = Buffer.alloc(32, 7).toString('base64');
    const keyed = await setUp([], { SECRET_ENCRYPTION_KEY: key });
    const currentCaseFolded = new CaseFoldedPasswordService(loadConfig({ SECRET_ENCRYPTION_KEY: key })).seal('purple rain falls down');
    // A value sealed under another key reads as absent: the check falls back to the stored hash alone.
    expect(await service.evaluate('pUrPlE rAiN fAlLs DoWn', current, { forced: true, currentCaseFolded })).toEqual(
      await service.evaluate('pUrPlE rAiN fAlLs DoWn', current, { forced: true }),
    );
    for (const candidate of ['Purple Rain Falls Down', 'pUrPlE rAiN fAlLs DoWn', 'PURPLE RAIN FALLS DOWN']) {
      expect((await keyed.evaluate(candidate, current, { forced: true, currentCaseFolded })).map((f) => f.rule)).toEqual(['same-as-current']);
    }
    expect(await keyed.evaluate('Purple Rain Falls Up!', current, { forced: true, currentCaseFolded })).toEqual([]);
  });

  it('catches the usual case changes from the stored hash alone', async () => {
    const service = await setUp([]);
    const current = await account('purple rain falls down');
    for (const candidate of ['purple rain falls down', 'PURPLE RAIN FALLS DOWN', 'Purple rain falls down']) {
      expect((await service.evaluate(candidate, current, { forced: true })).map((f) => f.rule)).toEqual(['same-as-current']);
    }
  });

  it('refuses the last N passwords only', async () => {
    const service = await setUp(['newest old password', 'second old password', 'third old password']);
    const current = await account('the current password');
    expect((await service.evaluate('second old password', current, { forced: true })).map((f) => f.rule)).toEqual(['recently-used']);
    expect(await service.evaluate('third old password', current, { forced: true })).toEqual([]);
  });

  it('holds back a voluntary change inside MINCHANGE, never a forced one', async () => {
    const service = await setUp([], { PASSWORD_MIN_CHANGE: '1d' });
    const current = await account('the current password', 3_600_000);
    expect((await service.evaluate('a brand new passphrase', current, { forced: false })).map((f) => f.rule)).toEqual(['min-change-interval']);
    expect(await service.evaluate('a brand new passphrase', current, { forced: true })).toEqual([]);
  });

  it('checks a generated temporary password against the account preset', async () => {
    const service = await setUp([]);
    expect(service.checkGenerated('K7PQ-M3XR-T9VW', { username: 'mallory', email: null, policyPreset: 'nist' })).toEqual([]);
    expect(service.checkGenerated('AB12CD34', { username: 'mallory', email: null, policyPreset: 'racf' }).map((f) => f.rule)).toEqual(['min-length']);
  });
});
