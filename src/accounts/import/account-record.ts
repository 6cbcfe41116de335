import { isSupportedHash } from '../../passwords/password-hasher.service.js';

export const REQUIRED_COLUMNS = ['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified'] as const;
export const PASSWORD_COLUMNS = ['password', 'passwordHash'] as const;
export const OPTIONAL_COLUMNS = ['policyPreset'] as const;
const KNOWN_COLUMNS = new Set<string>([...REQUIRED_COLUMNS, ...PASSWORD_COLUMNS, ...OPTIONAL_COLUMNS]);

export interface AccountRecord {
  username: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  orgUnit: string | null;
  locale: string;
  policyPreset: 'nist' | 'racf' | null;
  /** Exactly one of these is set when the file carries a password column and the cell is not empty. */
  password: string | null;
  passwordHash: string | null;
}

export type RecordResult = { ok: true; record: AccountRecord } | { ok: false; reason: string };

const USERNAME = /^[a-z0-9][a-z0-9._@+-]{0,127}$/;
// An RFC 5321 addr-spec without quoting or comments: no display names, no angle brackets, no spaces.
const EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const LOCALE = /^[a-z]{2,3}(-[A-Z]{2})?$/;
// Control characters (including bidi overrides) never belong in names that are shown to people.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const TRUE_VALUES = new Set(['true', '1', 'yes', 'y']);
const FALSE_VALUES = new Set(['false', '0', 'no', 'n', '']);

/** Checks a header row: every required column once, exactly one password column, nothing unknown. */
export function checkHeader(columns: string[]): string | null {
  const seen = new Set<string>();
  for (const column of columns) {
    if (!KNOWN_COLUMNS.has(column)) return `unknown column "${column.slice(0, 60)}"`;
    if (seen.has(column)) return `column "${column}" appears twice`;
    seen.add(column);
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !seen.has(c));
  if (missing.length) return `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
  const passwordColumns = PASSWORD_COLUMNS.filter((c) => seen.has(c));
  if (passwordColumns.length !== 1) return 'expected exactly one of the columns password or passwordHash';
  return null;
}

export function expectedHeader(): string {
  return `${REQUIRED_COLUMNS.join(',')},password|passwordHash[,policyPreset]`;
}

function optionalText(value: unknown, field: string, max: number): string | null | Error {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return new Error(`${field} must be text`);
  const trimmed = value.trim();
  if (!trimmed) return null;
  if (trimmed.length > max) return new Error(`${field} is longer than ${max} characters`);
  if (CONTROL.test(trimmed)) return new Error(`${field} contains control characters`);
  return trimmed;
}

/** Validates one row from any import format; `raw` maps column names to cell values. */
export function parseAccountRecord(raw: Record<string, unknown>): RecordResult {
  const problems: string[] = [];
  const take = <T>(value: T | Error): T | null => {
    if (value instanceof Error) {
      problems.push(value.message);
      return null;
    }
    return value;
  };

  const username = take(optionalText(raw.username, 'username', 128))?.toLowerCase() ?? null;
  if (!username) problems.push('username is empty');
  else if (!USERNAME.test(username)) problems.push('username may only contain letters, digits and . _ @ + -');

  const email = take(optionalText(raw.email, 'email', 254));
  if (email && !EMAIL.test(email)) problems.push('email is not a plain address like name@example.org');

  let emailVerified = false;
  const verifiedRaw = raw.emailVerified;
  if (typeof verifiedRaw === 'boolean') emailVerified = verifiedRaw;
  else if (verifiedRaw === undefined || verifiedRaw === null) emailVerified = false;
  else if (typeof verifiedRaw === 'string' && TRUE_VALUES.has(verifiedRaw.trim().toLowerCase())) emailVerified = true;
  else if (typeof verifiedRaw === 'string' && FALSE_VALUES.has(verifiedRaw.trim().toLowerCase())) emailVerified = false;
  else problems.push('emailVerified must be true or false');
  if (emailVerified && !email) problems.push('emailVerified is true but there is no email');

  const displayName = take(optionalText(raw.displayName, 'displayName', 200));
  const orgUnit = take(optionalText(raw.orgUnit, 'orgUnit', 200));
  const locale = take(optionalText(raw.locale, 'locale', 10)) ?? 'en';
  if (!LOCALE.test(locale)) problems.push('locale must look like en or de-DE');

  const presetRaw = take(optionalText(raw.policyPreset, 'policyPreset', 10));
  if (presetRaw && presetRaw !== 'nist' && presetRaw !== 'racf') problems.push('policyPreset must be nist or racf');

  let password: string | null = null;
  if (typeof raw.password === 'string' && raw.password !== '') {
    if (raw.password.length > 128) problems.push('password is longer than 128 characters');
    else password = raw.password;
  } else if (raw.password !== undefined && raw.password !== null && raw.password !== '') {
    problems.push('password must be text');
  }
  const passwordHash = take(optionalText(raw.passwordHash, 'passwordHash', 512));
  if (passwordHash && !isSupportedHash(passwordHash)) problems.push('passwordHash is not an argon2 or bcrypt ($2a$/$2b$) hash');

  if (problems.length) return { ok: false, reason: problems.join('; ') };
  return {
    ok: true,
    record: {
      username: username!,
      email,
      emailVerified,
      displayName,
      orgUnit,
      locale,
      policyPreset: (presetRaw as 'nist' | 'racf' | null) ?? null,
      password,
      passwordHash,
    },
  };
}
