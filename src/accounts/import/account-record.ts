import { importedHashProblem } from '../../passwords/stored-hash.js';
import { canonicalEmail, canonicalUsername } from '../identity.js';

export const REQUIRED_COLUMNS = ['username', 'email', 'displayName', 'orgUnit', 'locale', 'emailVerified'] as const;
export const PASSWORD_COLUMNS = ['password', 'passwordHash'] as const;
export const OPTIONAL_COLUMNS = ['policyPreset', 'externalId', 'disabled'] as const;
export const PLAINTEXT_REFUSED = 'plain passwords are accepted only with --allow-plaintext on a non-production instance';
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
  externalId: string | null;
  /** Null when the source says nothing (an update then keeps the account's flag). */
  disabled: boolean | null;
}

export interface RecordDefaults {
  /** `--email-verified all|none`: the value for a record whose source has no emailVerified field. */
  emailVerified?: boolean;
}

export type RecordResult = { ok: true; record: AccountRecord } | { ok: false; reason: string };

// The ASCII forms are tried first: they are what almost every row holds, and much cheaper than property escapes.
const USERNAME_ASCII = /^[a-z0-9][a-z0-9._@+-]{0,127}$/;
const EMAIL_ASCII =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
// Letters and digits of any script (canonicalUsername has already folded case), then the few separators.
const USERNAME = /^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}._@+-]{0,127}$/u;
// An RFC 5321 addr-spec without quoting or comments (no display names, angle brackets or spaces), with the
// non-ASCII letters of RFC 6531 (SMTPUTF8) in the local part and internationalised domain labels.
const EMAIL =
  /^[\p{L}\p{M}\p{Nd}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{M}\p{Nd}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{Nd}]([\p{L}\p{M}\p{Nd}-]{0,61}[\p{L}\p{M}\p{Nd}])?(\.[\p{L}\p{Nd}]([\p{L}\p{M}\p{Nd}-]{0,61}[\p{L}\p{M}\p{Nd}])?)+$/u;
const LOCALE = /^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$/;
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

/** `fr_FR`, `fr-fr` and `fr_FR.UTF-8` all become `fr-FR` (BCP 47 canonical case); anything else is left to the check. */
export function normaliseLocale(value: string): string {
  if (LOCALE.test(value)) return value;
  let known = localeCache.get(value);
  if (known === undefined) {
    known = canonicalLocale(value);
    if (localeCache.size < 1000) localeCache.set(value, known);
  }
  return known;
}

// An export holds a handful of distinct locales; Intl's canonicalisation is worth doing once per spelling.
const localeCache = new Map<string, string>();

function canonicalLocale(value: string): string {
  const tag = value.replace(/[.@].*$/, '').replace(/_/g, '-');
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? value;
  } catch {
    return value;
  }
}

function parseBoolean(value: unknown, field: string, problems: string[]): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && TRUE_VALUES.has(value.trim().toLowerCase())) return true;
  if (typeof value === 'string' && FALSE_VALUES.has(value.trim().toLowerCase())) return false;
  problems.push(`${field} must be true or false`);
  return null;
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
export function parseAccountRecord(raw: Record<string, unknown>, defaults: RecordDefaults = {}): RecordResult {
  const problems: string[] = [];
  const take = <T>(value: T | Error): T | null => {
    if (value instanceof Error) {
      problems.push(value.message);
      return null;
    }
    return value;
  };

  const rawUsername = take(optionalText(raw.username, 'username', 128));
  const username = rawUsername === null ? null : canonicalUsername(rawUsername);
  if (!username) problems.push('username is empty');
  else if (!USERNAME_ASCII.test(username) && !USERNAME.test(username)) problems.push('username may only contain letters, digits and . _ @ + -');

  const rawEmail = take(optionalText(raw.email, 'email', 254));
  const email = rawEmail === null ? null : canonicalEmail(rawEmail);
  if (email && !EMAIL_ASCII.test(email) && !EMAIL.test(email)) problems.push('email is not a plain address like name@example.org');

  let emailVerified = false;
  if (raw.emailVerified === undefined || raw.emailVerified === null) {
    if (defaults.emailVerified === undefined) problems.push('emailVerified is missing; say --email-verified all or none');
    else emailVerified = defaults.emailVerified && Boolean(email);
  } else {
    emailVerified = parseBoolean(raw.emailVerified, 'emailVerified', problems) ?? false;
    if (emailVerified && !email) problems.push('emailVerified is true but there is no email');
  }

  const displayName = take(optionalText(raw.displayName, 'displayName', 200));
  const orgUnit = take(optionalText(raw.orgUnit, 'orgUnit', 200));
  const rawLocale = take(optionalText(raw.locale, 'locale', 20));
  const locale = rawLocale === null ? 'en' : normaliseLocale(rawLocale);
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
  const hashProblem = passwordHash && importedHashProblem(passwordHash);
  if (hashProblem) problems.push(hashProblem);
  const externalId = take(optionalText(raw.externalId, 'externalId', 255));
  const disabled = raw.disabled === undefined || raw.disabled === null || raw.disabled === '' ? null : parseBoolean(raw.disabled, 'disabled', problems);

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
      externalId,
      disabled,
    },
  };
}
