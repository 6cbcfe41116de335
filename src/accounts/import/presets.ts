import { ImportFileError } from './import-file-error.js';
import type { LdifEntry } from './structured-readers.js';

/** Canonical import fields (see account-record.ts) to their values, plus per-line notes for the summary. */
export interface MappedRecord {
  cells: Record<string, unknown>;
  notes?: string[];
}
type Mapped = MappedRecord | { error: string } | null;

const MAP_TARGETS = new Set([
  'username', 'email', 'emailVerified', 'displayName', 'orgUnit', 'locale', 'password', 'passwordHash', 'externalId', 'disabled', 'policyPreset',
]);

/** A `--map` target's source: one column, or a template like `{firstName} {lastName}`. */
export type FieldSource = { column: string } | { template: string; columns: string[] };
export type FieldMap = Map<string, FieldSource>;

const PLACEHOLDER = /\{([^{}]+)\}/g;

function fieldSource(text: string): FieldSource {
  if (!text.includes('{')) return { column: text };
  return { template: text, columns: [...text.matchAll(PLACEHOLDER)].map((m) => m[1].trim()) };
}

/** Parses `username=login,displayName='{firstName} {lastName}',orgUnit=department`. */
export function parseFieldMap(spec: string): FieldMap {
  const map: FieldMap = new Map();
  let i = 0;
  while (i < spec.length) {
    const eq = spec.indexOf('=', i);
    if (eq < 0) throw new ImportFileError(`--map: expected target=column at "${spec.slice(i, i + 40)}"`);
    const target = spec.slice(i, eq).trim();
    if (!MAP_TARGETS.has(target)) throw new ImportFileError(`--map: unknown target "${target.slice(0, 40)}"; targets are ${[...MAP_TARGETS].join(', ')}`);
    if (map.has(target)) throw new ImportFileError(`--map: "${target}" is mapped twice`);
    let value: string;
    const quote = spec[eq + 1];
    if (quote === "'" || quote === '"') {
      const close = spec.indexOf(quote, eq + 2);
      if (close < 0) throw new ImportFileError(`--map: the quote after ${target}= is not closed`);
      value = spec.slice(eq + 2, close);
      i = close + 1;
      if (i < spec.length && spec[i] !== ',') throw new ImportFileError(`--map: expected a comma after ${target}=${quote}${value}${quote}`);
      i += 1;
    } else {
      const comma = spec.indexOf(',', eq);
      const end = comma < 0 ? spec.length : comma;
      value = spec.slice(eq + 1, end).trim();
      i = end + 1;
    }
    if (!value) throw new ImportFileError(`--map: ${target} maps to nothing`);
    map.set(target, fieldSource(value));
  }
  return map;
}

/**
 * A mapped CSV: each target from its `--map` source, or else from a column of the same name; other columns are
 * ignored (an export carries many). Returns the header problem, or the row mapper.
 */
export function mappedCsv(map: FieldMap, header: string[], emailVerifiedGiven: boolean): { problem: string } | { row: (cells: Record<string, string>) => MappedRecord } {
  const columns = new Set(header);
  const sources: [string, FieldSource][] = [];
  for (const target of MAP_TARGETS) {
    const source = map.get(target) ?? (columns.has(target) ? { column: target } : undefined);
    if (source) sources.push([target, source]);
  }
  const missing = sources.flatMap(([, s]) => ('column' in s ? [s.column] : s.columns)).filter((c) => !columns.has(c));
  if (missing.length) return { problem: `the map refers to column${missing.length > 1 ? 's' : ''} ${[...new Set(missing)].join(', ')}, not in the header` };
  if (!sources.some(([t]) => t === 'username')) return { problem: 'no username: map one, e.g. --map username=login' };
  if (!emailVerifiedGiven && !sources.some(([t]) => t === 'emailVerified')) {
    return { problem: 'the file has no emailVerified field: say --email-verified all or none' };
  }
  return {
    row: (cells) => {
      const out: Record<string, unknown> = {};
      for (const [target, source] of sources) {
        out[target] = 'column' in source ? cells[source.column] : source.template.replace(PLACEHOLDER, (_, c: string) => cells[c.trim()] ?? '').replace(/\s+/g, ' ').trim();
      }
      return { cells: out };
    },
  };
}

export const OKTA_MAP = parseFieldMap("username=login,email=email,displayName='{firstName} {lastName}',orgUnit=department,locale=locale");
const OKTA_ACTIVE = new Set(['ACTIVE', 'STAGED', 'PROVISIONED', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT']);
const OKTA_DISABLED = new Set(['SUSPENDED', 'DEPROVISIONED']);

/** Okta's user CSV: SUSPENDED and DEPROVISIONED users are imported disabled; `id`, when exported, is the external id. */
export function oktaCsv(map: FieldMap, header: string[], emailVerifiedGiven: boolean): ReturnType<typeof mappedCsv> {
  const merged: FieldMap = new Map(OKTA_MAP);
  if (header.includes('id')) merged.set('externalId', { column: 'id' });
  for (const [target, source] of map) merged.set(target, source);
  const base = mappedCsv(merged, header, emailVerifiedGiven);
  if ('problem' in base || !header.includes('status')) return base;
  return {
    row: (cells) => {
      const mapped = base.row(cells);
      const status = (cells.status ?? '').trim().toUpperCase();
      if (OKTA_DISABLED.has(status)) return { cells: { ...mapped.cells, disabled: true }, notes: [`imported as disabled (Okta status ${status})`] };
      if (status && !OKTA_ACTIVE.has(status)) return { cells: { error: `unknown Okta status "${status.slice(0, 30)}"` } };
      return { cells: { ...mapped.cells, disabled: false } };
    },
  };
}

/** Auth0's bulk user export (NDJSON): blocked users are imported disabled. */
export function auth0User(u: Record<string, unknown>): Mapped {
  const blocked = u.blocked === true;
  return {
    cells: {
      username: u.username ?? u.email,
      email: u.email,
      emailVerified: u.email_verified,
      displayName: u.name,
      locale: u.locale,
      externalId: u.user_id,
      disabled: blocked,
    },
    notes: blocked ? ['imported as disabled (Auth0 blocked)'] : undefined,
  };
}

function attribute(u: Record<string, unknown>, name: string): unknown {
  const attributes = u.attributes as Record<string, unknown> | undefined;
  const value = attributes && typeof attributes === 'object' ? attributes[name] : undefined;
  return Array.isArray(value) ? value[0] : value;
}

function jsonField(value: unknown): Record<string, unknown> | null {
  if (value && typeof value === 'object') return value as Record<string, unknown>;
  if (typeof value !== 'string') return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const b64 = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('base64').replace(/=+$/, '') : '');
const param = (params: Record<string, unknown> | undefined, name: string, fallback: string) => {
  const v = params?.[name];
  return String(Array.isArray(v) ? v[0] : (v ?? fallback));
};

/** A Keycloak password credential (secretData/credentialData, or the pre-12 flat form) as a stored hash. */
export function keycloakHash(credential: Record<string, unknown>): { passwordHash: string } | { error: string } {
  const secret = jsonField(credential.secretData) ?? { value: credential.hashedSaltedValue, salt: credential.salt };
  const data = jsonField(credential.credentialData) ?? { hashIterations: credential.hashIterations, algorithm: credential.algorithm };
  const algorithm = String(data.algorithm ?? '');
  const iterations = Number(data.hashIterations);
  const salt = b64(secret.salt);
  const value = b64(secret.value);
  if (!value || !salt) return { error: 'the Keycloak password credential has no value or salt' };
  const pbkdf2 = { pbkdf2: 'sha1', 'pbkdf2-sha256': 'sha256', 'pbkdf2-sha512': 'sha512' }[algorithm];
  if (pbkdf2) {
    if (!Number.isInteger(iterations) || iterations < 1) return { error: 'the Keycloak credential has no hashIterations' };
    return { passwordHash: `$pbkdf2-${pbkdf2}$i=${iterations}$${salt}$${value}` };
  }
  if (algorithm === 'argon2') {
    const params = data.additionalParameters as Record<string, unknown> | undefined;
    const type = param(params, 'type', 'id');
    const version = param(params, 'version', '1.3') === '1.0' ? 16 : 19;
    const memory = param(params, 'memory', '7168');
    const parallelism = param(params, 'parallelism', '1');
    return { passwordHash: `$argon2${type}$v=${version}$m=${memory},t=${Number.isInteger(iterations) ? iterations : 5},p=${parallelism}$${salt}$${value}` };
  }
  return { error: `Keycloak password algorithm "${algorithm.slice(0, 30)}" cannot be verified here` };
}

/** A Keycloak realm or users export user: disabled users are imported disabled. */
export function keycloakUser(u: Record<string, unknown>): Mapped {
  const credentials = Array.isArray(u.credentials) ? (u.credentials as Record<string, unknown>[]) : [];
  const password = credentials.find((c) => c && typeof c === 'object' && c.type === 'password');
  let passwordHash: string | undefined;
  if (password) {
    const converted = keycloakHash(password);
    if ('error' in converted) return converted;
    passwordHash = converted.passwordHash;
  }
  const disabled = u.enabled === false;
  const name = [u.firstName, u.lastName].filter((p) => typeof p === 'string' && p.trim()).join(' ');
  return {
    cells: {
      username: u.username,
      email: u.email,
      emailVerified: u.emailVerified,
      displayName: name || undefined,
      orgUnit: attribute(u, 'department') ?? attribute(u, 'orgUnit'),
      locale: attribute(u, 'locale'),
      externalId: u.id,
      disabled,
      passwordHash,
    },
    notes: disabled ? ['imported as disabled (Keycloak enabled: false)'] : undefined,
  };
}

const LDAP_PBKDF2: Record<string, string> = { 'PBKDF2': 'sha1', 'PBKDF2-SHA1': 'sha1', 'PBKDF2-SHA256': 'sha256', 'PBKDF2-SHA512': 'sha512' };

/** An RFC 2307 userPassword value as a stored hash (or, without a scheme, as a plain password). */
export function ldapPassword(value: string): { passwordHash: string } | { password: string } | { error: string } {
  const m = /^\{([A-Za-z0-9-]+)\}(.*)$/s.exec(value);
  if (!m) return { password: value };
  const scheme = m[1].toUpperCase();
  const rest = m[2];
  if (scheme === 'SSHA' || scheme === 'SSHA256' || scheme === 'SSHA512') return { passwordHash: `{${scheme}}${rest}` };
  if (scheme === 'CRYPT') return /^\$2[aby]\$/.test(rest) ? { passwordHash: rest } : { error: 'userPassword {CRYPT} other than bcrypt ($2a$/$2b$/$2y$) cannot be verified here' };
  if (scheme === 'ARGON2') return { passwordHash: rest };
  const digest = LDAP_PBKDF2[scheme];
  if (digest) {
    // OpenLDAP's pw-pbkdf2 module: iterations$salt$hash in "adapted base64" ('.' for '+', no padding).
    const parts = rest.split('$');
    if (parts.length !== 3 || !/^\d+$/.test(parts[0])) return { error: `userPassword {${scheme}} is not iterations$salt$hash` };
    const std = (s: string) => s.replace(/\./g, '+');
    return { passwordHash: `$pbkdf2-${digest}$i=${parts[0]}$${std(parts[1])}$${std(parts[2])}` };
  }
  return { error: `userPassword scheme {${scheme.slice(0, 20)}} cannot be verified here` };
}

const first = (entry: LdifEntry, name: string) => entry.attributes.get(name)?.[0];

/** An LDIF entry: people (entries with a uid) become accounts; containers without uid or mail are skipped. */
export function ldifUser(entry: LdifEntry): Mapped {
  const uid = first(entry, 'uid');
  if (!uid) return first(entry, 'mail') ? { error: 'the entry has no uid' } : null;
  const cells: Record<string, unknown> = {
    username: uid,
    email: first(entry, 'mail'),
    displayName: first(entry, 'displayname') ?? first(entry, 'cn'),
    orgUnit: first(entry, 'ou') ?? /(?:^|,)\s*ou=([^,]+)/i.exec(entry.dn)?.[1],
    locale: first(entry, 'preferredlanguage'),
  };
  const stored = first(entry, 'userpassword');
  if (stored) {
    const converted = ldapPassword(stored);
    if ('error' in converted) return converted;
    Object.assign(cells, converted);
  }
  const locked = /^true$/i.test(first(entry, 'nsaccountlock') ?? '') || /^true$/i.test(first(entry, 'logindisabled') ?? '') || entry.attributes.has('pwdaccountlockedtime');
  cells.disabled = locked;
  return { cells, notes: locked ? ['imported as disabled (locked in the directory)'] : undefined };
}
