import { randomInt } from 'node:crypto';

export type TemporaryPasswordPreset = 'nist' | 'racf';
/** RACF takes an 8-character password everywhere; a password phrase (14–100 characters) only where phrases are enabled. */
export type TemporaryPasswordFormat = 'password' | 'phrase';

// Upper case and digits only: accepted by RACF and ACF2 with or without mixed-case support, and
// without the look-alikes (0/O, 1/I/L) that users mistype when copying a value by hand.
export const RACF_LETTERS = 'ABCDEFGHJKMNPQRSTUVWXYZ';
export const RACF_DIGITS = '23456789';
const RACF_ALPHABET = RACF_LETTERS + RACF_DIGITS;
// Mixed case for the NIST preset: 55 symbols, about 5.8 bits each.
const NIST_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

function groups(alphabet: string, count: number, size: number): string {
  return Array.from({ length: count }, () => randomString(alphabet, size)).join('-');
}

function hasTripleRepeat(value: string): boolean {
  return /(.)\1\1/.test(value);
}

function containsUser(value: string, user: string): boolean {
  return user.length > 0 && value.toLowerCase().includes(user.toLowerCase());
}

/** The RACF rules for an 8-character password as this generator produces it. */
export function isRacfPassword(value: string, user = ''): boolean {
  return (
    /^[A-Z@#$][A-Z0-9@#$]{7}$/.test(value) &&
    /[0-9]/.test(value) &&
    !hasTripleRepeat(value) &&
    value.toLowerCase() !== user.toLowerCase()
  );
}

/** RACF's fixed password-phrase rules (without ICHPWX11): 14–100 characters, ≥2 letters, ≥2 non-letters, no run of 3, no user id, no quote. */
export function isRacfPhrase(value: string, user = ''): boolean {
  return (
    value.length >= 14 &&
    value.length <= 100 &&
    (value.match(/[A-Za-z]/g) ?? []).length >= 2 &&
    (value.match(/[^A-Za-z]/g) ?? []).length >= 2 &&
    !hasTripleRepeat(value) &&
    !value.includes("'") &&
    !containsUser(value, user)
  );
}

/** At least 16 characters, as the NIST preset's temporary value; random, so no dictionary word or user name. */
export function isNistTemporary(value: string, user = ''): boolean {
  return value.length >= 16 && value.length <= 64 && !containsUser(value, user);
}

/**
 * A server-generated temporary password (CSPRNG) that the account's policy preset accepts.
 * `user` is the account or external user id, which the value must not contain.
 */
export function generateTemporaryPassword(preset: TemporaryPasswordPreset, format: TemporaryPasswordFormat = 'password', user = ''): string {
  for (;;) {
    if (preset === 'nist') {
      const value = groups(NIST_ALPHABET, 4, 5);
      if (isNistTemporary(value, user)) return value;
    } else if (format === 'phrase') {
      const value = groups(RACF_ALPHABET, 4, 4);
      if (isRacfPhrase(value, user)) return value;
    } else {
      const value = randomString(RACF_LETTERS, 1) + randomString(RACF_ALPHABET, 7);
      if (isRacfPassword(value, user)) return value;
    }
  }
}
