import { ImportFileError } from './import-file-error.js';

/** One record of a structured export with the line it starts on: a JSON object, or an LDIF entry's attributes. */
export interface SourceRecord<T> {
  line: number;
  value: T | { error: string };
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LF = 0x0a;
// Only the key "users" matters at the top level: longer strings there (a realm's descriptions) are not collected.
const KEY_TEXT_MAX = 16;

/**
 * Streams the user objects of a JSON export: the elements of a top-level array, or of the top-level object's
 * `users` array (a Keycloak realm or users export). Only one user object is held at a time, so a realm export
 * of a million users is read in bounded memory; everything else in the document is skipped unparsed.
 */
export async function* jsonUserObjects(text: AsyncIterable<string>, maxRecordBytes: number): AsyncGenerator<SourceRecord<Record<string, unknown>>[]> {
  let depth = 0;
  let top: 'object' | 'array' | null = null;
  let usersDepth = -1;
  let inString = false;
  let escaped = false;
  let keyText: string | null = null;
  let lastKey: string | null = null;
  let line = 1;
  let captured = '';
  let capturing = false;
  let recordLine = 0;
  let found = false;
  for await (const chunk of text) {
    const records: SourceRecord<Record<string, unknown>>[] = [];
    let from = capturing ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        else if (keyText !== null && keyText.length <= KEY_TEXT_MAX) keyText += chunk[i];
        continue;
      }
      if (c === QUOTE) {
        inString = true;
        keyText = depth === 1 && top === 'object' ? '' : null;
      } else if (c === COLON && depth === 1 && top === 'object') {
        lastKey = keyText;
      } else if (c === COMMA && depth === 1) {
        lastKey = null;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (depth === 0) {
          top = c === OPEN_OBJECT ? 'object' : 'array';
          if (top === 'array') usersDepth = 1;
        } else if (depth === 1 && top === 'object' && c === OPEN_ARRAY && lastKey === 'users') {
          usersDepth = 2;
        } else if (depth === usersDepth && c === OPEN_OBJECT) {
          capturing = true;
          from = i;
          recordLine = line;
        }
        depth += 1;
        if (depth === usersDepth) found = true;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        depth -= 1;
        if (capturing && depth === usersDepth) {
          const json = captured + chunk.slice(from, i + 1);
          captured = '';
          capturing = false;
          records.push({ line: recordLine, value: parseObject(json) });
        } else if (c === CLOSE_ARRAY && depth === usersDepth - 1) {
          usersDepth = -1;
        }
      } else if (c === LF) {
        line += 1;
      }
    }
    if (capturing) {
      captured += chunk.slice(from);
      if (captured.length > maxRecordBytes) throw new ImportFileError(`a user object is longer than ${maxRecordBytes} bytes`, recordLine);
    }
    if (records.length) yield records;
  }
  if (depth !== 0 || inString) throw new ImportFileError('the JSON document ends before it is complete', line);
  if (!found) throw new ImportFileError('no user list found: expected a JSON array of users or an object with a "users" array');
}

function parseObject(json: string): Record<string, unknown> | { error: string } {
  try {
    const value = JSON.parse(json) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { error: 'expected a JSON object' };
  } catch {
    return { error: 'not valid JSON' };
  }
}

/** An LDIF entry: lower-cased attribute names (options like `;lang-fr` dropped) to their values, and its DN. */
export interface LdifEntry {
  dn: string;
  attributes: Map<string, string[]>;
}

/**
 * Streams the entries of an LDIF content file (RFC 2849): folded lines, `::` base64 values and comments.
 * Change records and `:<` URL values are refused per entry, never fetched.
 */
export async function* ldifEntries(text: AsyncIterable<string>, maxRecordBytes: number): AsyncGenerator<SourceRecord<LdifEntry>[]> {
  let carry = '';
  let line = 0;
  let lines: string[] = [];
  let entryLine = 0;
  let size = 0;
  const finish = (): SourceRecord<LdifEntry> | null => {
    const collected = lines;
    lines = [];
    size = 0;
    const at = entryLine;
    entryLine = 0;
    const value = collected.length ? parseEntry(collected) : null;
    return value && { line: at, value };
  };
  const take = (raw: string, records: SourceRecord<LdifEntry>[]) => {
    line += 1;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text === '') {
      const entry = finish();
      if (entry) records.push(entry);
      return;
    }
    size += text.length;
    if (size > maxRecordBytes) throw new ImportFileError(`an LDIF entry is longer than ${maxRecordBytes} bytes`, entryLine || line);
    if (text.startsWith(' ')) {
      if (lines.length) lines[lines.length - 1] += text.slice(1);
      return;
    }
    if (text.startsWith('#')) {
      lines.push('#');
      return;
    }
    if (!entryLine) entryLine = line;
    lines.push(text);
  };
  for await (const chunk of text) {
    const records: SourceRecord<LdifEntry>[] = [];
    const parts = (carry + chunk).split('\n');
    carry = parts.pop() ?? '';
    if (carry.length > maxRecordBytes) throw new ImportFileError(`a line is longer than ${maxRecordBytes} bytes`, line + 1);
    for (const part of parts) take(part, records);
    if (records.length) yield records;
  }
  const records: SourceRecord<LdifEntry>[] = [];
  if (carry) take(carry, records);
  const last = finish();
  if (last) records.push(last);
  if (records.length) yield records;
}

/** Null for a block that holds only comments or the `version:` line. */
function parseEntry(lines: string[]): LdifEntry | { error: string } | null {
  const attributes = new Map<string, string[]>();
  let dn = '';
  for (const text of lines) {
    if (text === '#') continue;
    const colon = text.indexOf(':');
    if (colon <= 0) return { error: 'not an LDIF attribute line' };
    const name = text.slice(0, colon).split(';')[0].trim().toLowerCase();
    let value: string;
    if (text[colon + 1] === ':') value = Buffer.from(text.slice(colon + 2).trim(), 'base64').toString('utf8');
    else if (text[colon + 1] === '<') return { error: `attribute ${name} refers to a URL; export the value inline` };
    else value = text.slice(colon + 1).trim();
    if (name === 'version' && !dn && !attributes.size) continue;
    if (name === 'changetype') return { error: 'an LDIF change record, not an entry' };
    if (name === 'dn') {
      dn = value;
      continue;
    }
    const values = attributes.get(name);
    if (values) values.push(value);
    else attributes.set(name, [value]);
  }
  if (!dn) return attributes.size ? { error: 'the entry has no dn' } : null;
  return { dn, attributes };
}
