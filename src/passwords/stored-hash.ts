import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * The password hash formats `accounts.password_hash` may hold. Each is self-describing, so the one verifier
 * (PasswordHasherService) knows the scheme from the text alone:
 *   $argon2id$v=19$m=…,t=…,p=…$salt$hash   (also argon2i / argon2d; this product's own hashes)
 *   $2a$ / $2b$ / $2y$NN$…                 bcrypt
 *   $pbkdf2-sha1|sha256|sha512$i=N$salt$hash   PBKDF2 in PHC form, salt and derived key in standard base64
 *                                          (Keycloak's credentials and OpenLDAP's {PBKDF2-SHA256} are converted to it)
 *   {SSHA}… / {SSHA256}… / {SSHA512}…       RFC 2307 salted SHA as LDAP stores it: base64(digest || salt)
 */
export type HashScheme = 'argon2' | 'bcrypt' | 'pbkdf2' | 'ssha';

/**
 * Imported hashes may not cost more than this to verify: one sign-in must not tie up a core for seconds.
 * bcrypt 14 and argon2 256 MiB / t=10 / p=8 are well above any default; PBKDF2's cap is above OWASP's 2023
 * recommendation of 600,000 SHA-256 iterations.
 */
export const HASH_COST_CAPS = { bcryptCost: 14, argon2MemoryKiB: 262_144, argon2Time: 10, argon2Parallelism: 8, pbkdf2Iterations: 1_000_000 } as const;

const ARGON2 = /^\$argon2(id|i|d)\$v=(16|19)\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]{8,128})\$([A-Za-z0-9+/]{16,256})$/;
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const PBKDF2 = /^\$pbkdf2-(sha1|sha256|sha512)\$i=(\d{1,10})\$([A-Za-z0-9+/]{4,172})\$([A-Za-z0-9+/]{16,172})$/;
const SSHA = /^\{(SSHA|SSHA256|SSHA512)\}([A-Za-z0-9+/]+={0,2})$/;
const SSHA_DIGESTS = { SSHA: ['sha1', 20], SSHA256: ['sha256', 32], SSHA512: ['sha512', 64] } as const;
const MAX_SALT_BYTES = 64;

const pbkdf2Async = promisify(pbkdf2);

export function hashScheme(stored: string): HashScheme | null {
  if (stored.startsWith('$argon2')) return 'argon2';
  if (stored.startsWith('$2')) return 'bcrypt';
  if (stored.startsWith('$pbkdf2-')) return 'pbkdf2';
  if (stored.startsWith('{SSHA')) return 'ssha';
  return null;
}

/** For audit details: the algorithm of a stored hash, never the hash. */
export function hashAlgorithm(stored: string | null): string | null {
  if (!stored) return null;
  const scheme = hashScheme(stored);
  if (scheme === 'bcrypt') return 'bcrypt';
  if (scheme === 'ssha') return stored.slice(1, stored.indexOf('}')).toLowerCase();
  return scheme ? stored.split('$')[1] : 'unknown';
}

/** Why an imported hash cannot be stored (unknown format, or costlier to verify than HASH_COST_CAPS allow); null when it can. */
export function importedHashProblem(value: string): string | null {
  const caps = HASH_COST_CAPS;
  const argon2 = ARGON2.exec(value);
  if (argon2) {
    const [m, t, p] = [Number(argon2[3]), Number(argon2[4]), Number(argon2[5])];
    if (m > caps.argon2MemoryKiB) return `argon2 memory cost m=${m} KiB is above the cap of ${caps.argon2MemoryKiB} KiB (256 MiB)`;
    if (t > caps.argon2Time) return `argon2 time cost t=${t} is above the cap of ${caps.argon2Time}`;
    if (p > caps.argon2Parallelism) return `argon2 parallelism p=${p} is above the cap of ${caps.argon2Parallelism}`;
    if (m < 8 * p || t < 1 || p < 1) return 'argon2 parameters are out of range';
    return null;
  }
  const bcrypt = BCRYPT.exec(value);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost > caps.bcryptCost) return `bcrypt cost ${cost} is above the cap of ${caps.bcryptCost}`;
    return cost < 4 ? 'bcrypt cost is below 4' : null;
  }
  const pbkdf = PBKDF2.exec(value);
  if (pbkdf) {
    const iterations = Number(pbkdf[2]);
    if (iterations > caps.pbkdf2Iterations) return `pbkdf2 iterations ${iterations} are above the cap of ${caps.pbkdf2Iterations}`;
    if (iterations < 1) return 'pbkdf2 iterations must be at least 1';
    if (Buffer.from(pbkdf[3], 'base64').length > MAX_SALT_BYTES) return `pbkdf2 salt is longer than ${MAX_SALT_BYTES} bytes`;
    return null;
  }
  const ssha = SSHA.exec(value);
  if (ssha) {
    const saltBytes = Buffer.from(ssha[2], 'base64').length - SSHA_DIGESTS[ssha[1] as keyof typeof SSHA_DIGESTS][1];
    return saltBytes < 1 || saltBytes > MAX_SALT_BYTES ? `{${ssha[1]}} value has no salt or a salt longer than ${MAX_SALT_BYTES} bytes` : null;
  }
  return 'passwordHash is not a supported hash (argon2, bcrypt $2a$/$2b$/$2y$, $pbkdf2-sha1|sha256|sha512$, {SSHA}, {SSHA256}, {SSHA512})';
}

/** PBKDF2 runs on libuv's thread pool; the comparison is constant-time. */
export async function verifyPbkdf2(stored: string, password: string): Promise<boolean> {
  const m = PBKDF2.exec(stored);
  if (!m || Number(m[2]) > HASH_COST_CAPS.pbkdf2Iterations) return false;
  const expected = Buffer.from(m[4], 'base64');
  const derived = await pbkdf2Async(password, Buffer.from(m[3], 'base64'), Number(m[2]), expected.length, m[1]);
  return timingSafeEqual(derived, expected);
}

/** One salted SHA digest: microseconds, so it runs inline. */
export function verifySsha(stored: string, password: string): boolean {
  const m = SSHA.exec(stored);
  if (!m) return false;
  const [digest, size] = SSHA_DIGESTS[m[1] as keyof typeof SSHA_DIGESTS];
  const raw = Buffer.from(m[2], 'base64');
  if (raw.length <= size) return false;
  const actual = createHash(digest).update(password, 'utf8').update(raw.subarray(size)).digest();
  return timingSafeEqual(actual, raw.subarray(0, size));
}
