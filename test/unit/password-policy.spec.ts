import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
  mfa: false,
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

  it('enforces 15 to 128 characters (SP 800-63B-4 for a password used alone), counting characters rather than bytes', () => {
    expect(rules('fourteen chars', nist)).toEqual(['min-length']);
    expect(rules('fifteen chars!!', nist)).toEqual([]);
    expect(rules('ünïcödé-ök12345', nist)).toEqual([]);
    expect(rules('x'.repeat(129), nist)).toEqual(['max-length']);
  });

  it('takes 8 characters where PASSWORD_MFA says every account also has a second factor', () => {
    const withMfa = { ...options, mfa: true };
    expect(rules('sevench', nist, withMfa)).toEqual(['min-length']);
    expect(rules('eightchr', nist, withMfa)).toEqual([]);
    expect(rules('eightchr', nist)).toEqual(['min-length']);
  });

  it('refuses common and blocklisted passwords case-insensitively, saying which list it is on', () => {
    expect(checkSyntax('QWERTY123456789', nist, options)).toEqual([
      { rule: 'common-password', message: 'This password is on a public list of the most commonly used passwords, so attackers try it first; choose another.' },
    ]);
    expect(checkSyntax('Winter-Is-Coming-2024', nist, options)).toEqual([
      { rule: 'blocklisted', message: "This password is on your organisation's list of passwords known to attackers (for example from a leak); choose another." },
    ]);
  });

  it('refuses the username and the email local part', () => {
    expect(rules('my name is JDOE and more', nist)).toEqual(['contains-username']);
    expect(rules('John.Doe forever and ever', nist)).toEqual(['contains-email']);
  });

  it('lists every broken rule at once, each in plain words', () => {
    const failures = checkSyntax('jdoe', nist, options);
    expect(failures.map((f) => f.rule)).toEqual(['min-length', 'contains-username']);
    expect(failures[0].message).toBe('Use at least 15 characters (this one has 4).');
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
    expect(describePreset('nist', { racfRelaxed: false, mfa: false })[0]).toContain('15 to 128 characters');
    expect(describePreset('nist', { racfRelaxed: false, mfa: true })[0]).toContain('8 to 128 characters');
    expect(describePreset('racf', { racfRelaxed: true, mfa: false })[0]).toContain('9 to 100 characters');
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
    expect(service.checkGenerated('K7PQ-M3XR-T9VW-H4NZ', { username: 'mallory', email: null, policyPreset: 'nist' })).toEqual([]);
    expect(service.checkGenerated('K7PQ-M3XR-T9VW', { username: 'mallory', email: null, policyPreset: 'nist' }).map((f) => f.rule)).toEqual(['min-length']);
    expect(service.checkGenerated('AB12CD34', { username: 'mallory', email: null, policyPreset: 'racf' }).map((f) => f.rule)).toEqual(['min-length']);
  });

  describe('offline breached-password check (PASSWORD_PWNED_DIR, Pwned Passwords range files)', () => {
    const sha1 = (password: string) => createHash('sha1').update(password).digest('hex').toUpperCase();
    const BREACHED = 'correct horse battery staple';
    const PADDING_ONLY = 'a padding line counts for nothing';
    const SAME_RANGE_CLEAN = 'amber wolves climb quietly';

    /** A copy holding only the ranges this test needs, in the range API's format (CRLF lines, SUFFIX:COUNT). */
    async function pwnedDir(): Promise<string> {
      const dir = await mkdtemp(path.join(tmpdir(), 'ro-pwned-'));
      const lines = new Map<string, string[]>();
      const add = (hash: string, count: number) => lines.set(hash.slice(0, 5), [...(lines.get(hash.slice(0, 5)) ?? []), `${hash.slice(5)}:${count}`]);
      add(sha1(BREACHED), 3_645);
      add(sha1(PADDING_ONLY), 0);
      // A neighbour in the clean password's range, so its file exists and is read.
      add(`${sha1(SAME_RANGE_CLEAN).slice(0, 5)}${'0'.repeat(35)}`, 12);
      for (const [prefix, entries] of lines) await writeFile(path.join(dir, `${prefix}.txt`), `${entries.join('\r\n')}\r\n`);
      return dir;
    }

    it('refuses a password whose SHA-1 is in the set, for every preset, and says so', async () => {
      const service = await setUp([], { PASSWORD_PWNED_DIR: await pwnedDir() });
      const current = await account('the current password');
      expect(await service.evaluate(BREACHED, current, { forced: true })).toEqual([
        { rule: 'breached', message: 'This password has appeared in a data breach, so attackers have it on their lists; choose another.' },
      ]);
      expect((await service.evaluate('Correct Horse Battery Staple', current, { forced: true })).map((f) => f.rule)).toEqual([]);
      const racfBreached = await service.evaluate(BREACHED, { ...current, policyPreset: 'racf' }, { forced: true });
      expect(racfBreached.map((f) => f.rule)).toContain('breached');
    });

    it('accepts a password whose range holds other hashes, a padding line (count 0) and a range with no file', async () => {
      const service = await setUp([], { PASSWORD_PWNED_DIR: await pwnedDir() });
      const current = await account('the current password');
      expect(await service.evaluate(SAME_RANGE_CLEAN, current, { forced: true })).toEqual([]);
      expect(await service.evaluate(PADDING_ONLY, current, { forced: true })).toEqual([]);
      expect(await service.evaluate('seven lanterns over the bay', current, { forced: true })).toEqual([]);
    });

    it('refuses to start when the directory does not exist', async () => {
      await expect(setUp([], { PASSWORD_PWNED_DIR: path.join(tmpdir(), 'ro-no-such-pwned-dir') })).rejects.toThrow(/PASSWORD_PWNED_DIR/);
    });
  });
});
