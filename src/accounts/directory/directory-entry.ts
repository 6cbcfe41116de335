import type { Entry } from 'ldapts';
import type { DirectoryAttributes } from '../../config/app-config.js';
import { type RecordResult, parseAccountRecord } from '../import/account-record.js';

/** AD userAccountControl ACCOUNTDISABLE. */
const ACCOUNT_DISABLED = 0x2;

export interface DirectoryRecord {
  dn: string;
  username: string;
  email: string | null;
  displayName: string | null;
  orgUnit: string | null;
  locale: string;
  disabled: boolean;
}

function first(value: Entry[string] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : v.toString();
}

/** preferredLanguage is an Accept-Language value (RFC 2798): `en-us`, `de`, `fr-CA, fr;q=0.8`. Unusable tags fall back to the default. */
export function localeOf(value: string | undefined): string | undefined {
  const match = /^\s*([a-z]{2,3})(?:[-_]([a-z]{2}))?\s*(?:[;,]|$)/i.exec(value ?? '');
  if (!match) return undefined;
  return match[2] ? `${match[1].toLowerCase()}-${match[2].toUpperCase()}` : match[1].toLowerCase();
}

/** The attributes a sync asks the directory for. */
export function requestedAttributes(attributes: DirectoryAttributes, kind: 'openldap' | 'ad'): string[] {
  const list = [attributes.username, attributes.mail, attributes.displayName, attributes.orgUnit, attributes.locale];
  return kind === 'ad' ? [...list, 'userAccountControl'] : list;
}

/**
 * One directory entry checked by the import's own rule set (parseAccountRecord). A directory's mail attribute is
 * kept by the organisation, so it counts as verified.
 */
export function directoryRecord(entry: Entry, attributes: DirectoryAttributes, kind: 'openldap' | 'ad'): { ok: true; record: DirectoryRecord } | { ok: false; reason: string } {
  const username = first(entry[attributes.username]);
  if (!username) return { ok: false, reason: `the entry has no ${attributes.username}` };
  const email = first(entry[attributes.mail]) ?? null;
  const result: RecordResult = parseAccountRecord({
    username,
    email,
    emailVerified: Boolean(email),
    displayName: first(entry[attributes.displayName]),
    orgUnit: first(entry[attributes.orgUnit]),
    locale: localeOf(first(entry[attributes.locale])),
  });
  if (!result.ok) return result;
  const { record } = result;
  const disabled = kind === 'ad' && (Number(first(entry.userAccountControl) ?? 0) & ACCOUNT_DISABLED) !== 0;
  return {
    ok: true,
    record: { dn: entry.dn, username: record.username, email: record.email, displayName: record.displayName, orgUnit: record.orgUnit, locale: record.locale, disabled },
  };
}
