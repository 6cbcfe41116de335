import { createHash, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalEmail, canonicalUsername, usernameSkeleton } from '../../src/accounts/identity.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { hashAlgorithm, importedHashProblem } from '../../src/passwords/stored-hash.js';

const hasher = new PasswordHasherService();
const salt = Buffer.from('0123456789abcdef');
const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

describe('stored hash formats', () => {
  it('verifies PBKDF2 in PHC form with each digest, and nothing else', async () => {
    for (const digest of ['sha1', 'sha256', 'sha512'] as const) {
      const stored = `$pbkdf2-${digest}$i=1000$${b64(salt)}$${b64(pbkdf2Sync('pbkdf2 password', salt, 1000, 32, digest))}`;
      expect(importedHashProblem(stored)).toBeNull();
      expect(await hasher.verify(stored, 'pbkdf2 password')).toBe(true);
      expect(await hasher.verify(stored, 'pbkdf2 passwore')).toBe(false);
    }
  });

  it('verifies {SSHA}, {SSHA256} and {SSHA512}', async () => {
    for (const [scheme, digest] of [['SSHA', 'sha1'], ['SSHA256', 'sha256'], ['SSHA512', 'sha512']] as const) {
      const stored = `{${scheme}}${Buffer.concat([createHash(digest).update('ssha password').update(salt).digest(), salt]).toString('base64')}`;
      expect(await hasher.verify(stored, 'ssha password')).toBe(true);
      expect(await hasher.verify(stored, 'ssha passwore')).toBe(false);
    }
  });

  it.each([
    ['$pbkdf2-sha256$i=1000001$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY', 'pbkdf2 iterations 1000001 are above the cap of 1000000'],
    ['$2y$31$' + 'a'.repeat(53), 'bcrypt cost 31 is above the cap of 14'],
    ['$2b$03$' + 'a'.repeat(53), 'bcrypt cost is below 4'],
    ['{SSHA}' + Buffer.alloc(20).toString('base64'), '{SSHA} value has no salt or a salt longer than 64 bytes'],
    ['$6$rounds=5000$salt$hash', 'passwordHash is not a supported hash (argon2, bcrypt $2a$/$2b$/$2y$, $pbkdf2-sha1|sha256|sha512$, {SSHA}, {SSHA256}, {SSHA512})'],
  ])('refuses %s', async (stored, reason) => {
    expect(importedHashProblem(stored)).toBe(reason);
    expect(await hasher.verify(stored, 'anything')).toBe(false);
  });

  it('names the algorithm for the audit, never the hash', () => {
    expect(hashAlgorithm('$pbkdf2-sha512$i=1$x$y')).toBe('pbkdf2-sha512');
    expect(hashAlgorithm('{SSHA512}abc')).toBe('ssha512');
    expect(hashAlgorithm('$2b$10$abc')).toBe('bcrypt');
    expect(hashAlgorithm('$argon2id$v=19$m=1')).toBe('argon2id');
    expect(hashAlgorithm(null)).toBeNull();
  });
});

describe('canonical identities', () => {
  it.each([
    ['garci\u0301a0', 'garcía0'],
    ['GARCÍA0', 'garcía0'],
    ['  Straße ', 'strasse'],
    ['ＷＩＤＥ', 'wide'],
    ['ΟΔΥΣΣΕΥΣ', 'οδυσσευς'],
    ['οδυσσευσ', 'οδυσσευς'],
    ['\u212Aelvin', 'kelvin'],
    ['Alice', 'alice'],
  ])('%s is %s', (input, canonical) => {
    expect(canonicalUsername(input)).toBe(canonical);
  });

  it('keeps the local part of an email as given and lower-cases its domain', () => {
    expect(canonicalEmail('Kem.Garci\u0301a@Exa\u0308mple.ORG')).toBe('Kem.García@exämple.org');
  });

  it('gives cross-script lookalikes the Latin skeleton, and plain Latin names none', () => {
    expect(usernameSkeleton('раul')).toBe('paul');
    expect(usernameSkeleton('аdmin')).toBe('admin');
    expect(usernameSkeleton('paul')).toBeNull();
    expect(usernameSkeleton('garcía0')).toBeNull();
    expect(usernameSkeleton('дмитрий')).toBe('дmиtpий');
  });
});
