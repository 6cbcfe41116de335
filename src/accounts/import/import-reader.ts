import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PLAINTEXT_REFUSED, checkHeader, expectedHeader } from './account-record.js';
import { CsvSplitter } from './csv-splitter.js';
import { ImportFileError } from './import-file-error.js';
import { type FieldMap, type MappedRecord, auth0User, keycloakUser, ldifUser, mappedCsv, oktaCsv } from './presets.js';
import { type SourceRecord, jsonUserObjects, ldifEntries } from './structured-readers.js';

/** The product's own CSV or NDJSON columns, or an identity provider's export. */
export type ImportFormat = 'csv' | 'ndjson' | 'okta' | 'auth0' | 'keycloak' | 'ldif';
export const IMPORT_FORMATS: readonly ImportFormat[] = ['csv', 'ndjson', 'okta', 'auth0', 'keycloak', 'ldif'];

export interface ReadOptions {
  maxBytes: number;
  maxLineBytes: number;
  /** `--map`: the CSV is an export of its own shape. */
  map?: FieldMap;
  /** `--email-verified` was given, so a source without the field is acceptable. */
  emailVerifiedGiven: boolean;
  /** The `password` column is accepted (demo data on a non-production instance). */
  plaintextAllowed: boolean;
}

export { ImportFileError };

export interface RawRow {
  line: number;
  /** Column name to cell value, or a reason the line cannot be read at all. */
  cells: Record<string, unknown> | { error: string };
  /** Said about the line in the summary (imported as disabled, for example). */
  notes?: string[];
}

export function formatFromName(fileName: string): ImportFormat {
  if (/\.ldif$/i.test(fileName)) return 'ldif';
  return /\.(nd)?jsonl?$/i.test(fileName) ? 'ndjson' : 'csv';
}

/** How many leading bytes of `buf` end on a character boundary (a split character waits for the next chunk). */
function completeUtf8Length(buf: Buffer): number {
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 4); i--) {
    const b = buf[i];
    if ((b & 0xc0) === 0x80) continue;
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return buf.length - i >= size ? buf.length : i;
  }
  return buf.length;
}

/** Decodes UTF-8 strictly: a file with invalid bytes is refused instead of stored as mojibake. */
async function* decodeUtf8(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let pending: Buffer | null = null;
  let offset = 0;
  for await (const chunk of chunks) {
    const buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    const end = completeUtf8Length(buf);
    const body = buf.subarray(0, end);
    if (!isUtf8(body)) throw new ImportFileError(`the file is not valid UTF-8 (invalid bytes after byte ${offset})`);
    yield body.toString('utf8');
    pending = end < buf.length ? buf.subarray(end) : null;
    offset += end;
  }
  if (pending) throw new ImportFileError('the file is not valid UTF-8 (it ends inside a character)');
}

/** The product's own header: exactly its columns. */
function ownHeader(options: ReadOptions) {
  return (header: string[]) => {
    const problem = checkHeader(header);
    if (problem) return { problem: `wrong header: ${problem}; expected ${expectedHeader()}` };
    if (header.includes('password') && !options.plaintextAllowed) return { problem: PLAINTEXT_REFUSED };
    return { row: (cells: Record<string, string>): MappedRecord => ({ cells }) };
  };
}

type HeaderHandler = (header: string[]) => { problem: string } | { row: (cells: Record<string, string>) => MappedRecord };

async function* csvRows(text: AsyncIterable<string>, maxLineBytes: number, onHeader: HeaderHandler): AsyncGenerator<RawRow[]> {
  const splitter = new CsvSplitter(maxLineBytes);
  let header: string[] | null = null;
  let mapRow: ((cells: Record<string, string>) => MappedRecord) | null = null;
  const toRows = (records: ReturnType<CsvSplitter['push']>): RawRow[] => {
    const rows: RawRow[] = [];
    for (const { line, cells: record } of records) {
      if (!header) {
        header = record.map((c) => c.trim());
        const handled = onHeader(header);
        if ('problem' in handled) throw new ImportFileError(handled.problem, line);
        mapRow = handled.row;
        continue;
      }
      if (record.length !== header.length) {
        rows.push({ line, cells: { error: `expected ${header.length} columns, found ${record.length}` } });
        continue;
      }
      // No prototype: an export's column may be called anything, `__proto__` included.
      const cells: Record<string, string> = Object.create(null);
      for (let i = 0; i < header.length; i++) cells[header[i]] = record[i];
      rows.push({ line, ...mapRow!(cells) });
    }
    return rows;
  };
  let first = true;
  for await (let piece of text) {
    if (first) {
      piece = piece.replace(/^\uFEFF/, '');
      first = false;
    }
    const rows = toRows(splitter.push(piece, false));
    if (rows.length) yield rows;
  }
  const rows = toRows(splitter.push('', true));
  if (rows.length) yield rows;
  if (!header) throw new ImportFileError('the file has no header row');
}

async function* ndjsonRows(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<RawRow[]> {
  let buffer = '';
  let line = 0;
  let first = true;
  const toRow = (content: string): RawRow | null => {
    line += 1;
    if (first) {
      content = content.replace(/^\uFEFF/, '');
      first = false;
    }
    if (!content.trim()) return null;
    try {
      const value = JSON.parse(content) as unknown;
      if (!value || typeof value !== 'object' || Array.isArray(value)) return { line, cells: { error: 'expected a JSON object' } };
      return { line, cells: value as Record<string, unknown> };
    } catch {
      return { line, cells: { error: 'not valid JSON' } };
    }
  };
  for await (const piece of text) {
    buffer += piece;
    const rows: RawRow[] = [];
    let start = 0;
    let newline: number;
    while ((newline = buffer.indexOf('\n', start)) >= 0) {
      if (newline - start > maxLineBytes) throw new ImportFileError(`a line is longer than ${maxLineBytes} bytes`, line + 1);
      const row = toRow(buffer.slice(start, newline).replace(/\r$/, ''));
      start = newline + 1;
      if (row) rows.push(row);
    }
    buffer = buffer.slice(start);
    if (buffer.length > maxLineBytes) throw new ImportFileError(`a line is longer than ${maxLineBytes} bytes`, line + 1);
    if (rows.length) yield rows;
  }
  const last = toRow(buffer);
  if (last) yield [last];
}

function isUnreadable(value: unknown): value is { error: string } {
  return Boolean(value) && typeof (value as { error?: unknown }).error === 'string' && Object.keys(value as object).length === 1;
}

/** Source records through a preset's mapping; a record the preset skips (an LDIF container) is not a row. */
async function* mapped<T>(records: AsyncIterable<SourceRecord<T>[]>, preset: (value: T) => MappedRecord | { error: string } | null): AsyncGenerator<RawRow[]> {
  for await (const batch of records) {
    const rows: RawRow[] = [];
    for (const { line, value } of batch) {
      if (isUnreadable(value)) {
        rows.push({ line, cells: { error: value.error } });
        continue;
      }
      const result = preset(value as T);
      if (!result) continue;
      if ('error' in result) rows.push({ line, cells: { error: result.error } });
      else rows.push({ line, cells: result.cells, notes: result.notes });
    }
    if (rows.length) yield rows;
  }
}

async function* ndjsonObjects(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<SourceRecord<Record<string, unknown>>[]> {
  for await (const rows of ndjsonRows(text, maxLineBytes)) yield rows.map((r) => ({ line: r.line, value: r.cells }));
}

function rowsOf(format: ImportFormat, text: AsyncIterable<string>, options: ReadOptions): AsyncGenerator<RawRow[]> {
  const { map, maxLineBytes, emailVerifiedGiven } = options;
  switch (format) {
    case 'csv':
      return csvRows(text, maxLineBytes, map ? (header) => mappedCsv(map, header, emailVerifiedGiven) : ownHeader(options));
    case 'okta':
      return csvRows(text, maxLineBytes, (header) => oktaCsv(map ?? new Map(), header, emailVerifiedGiven));
    case 'ndjson':
      return mapped(ndjsonObjects(text, maxLineBytes), (cells) => ({ cells }));
    case 'auth0':
      return mapped(ndjsonObjects(text, maxLineBytes), auth0User);
    case 'keycloak':
      return mapped(jsonUserObjects(text, maxLineBytes), keycloakUser);
    case 'ldif':
      return mapped(ldifEntries(text, maxLineBytes), ldifUser);
  }
}

/** Streams the rows of an import file with their line numbers, a chunk of rows at a time, in bounded memory. */
export async function* readImportFile(filePath: string, format: ImportFormat, options: ReadOptions): AsyncGenerator<RawRow[]> {
  const limits = options;
  const info = await stat(filePath).catch((err: NodeJS.ErrnoException) => {
    throw new ImportFileError(`cannot read ${filePath}: ${err.code ?? err.message}`);
  });
  if (!info.isFile()) throw new ImportFileError(`${filePath} is not a file`);
  if (info.size === 0) throw new ImportFileError('the file is empty');
  if (info.size > limits.maxBytes) throw new ImportFileError(`the file is larger than ${limits.maxBytes} bytes`);
  const text = decodeUtf8(createReadStream(filePath, { highWaterMark: 256 * 1024 }));
  if (!options.emailVerifiedGiven && (format === 'okta' || format === 'ldif')) {
    throw new ImportFileError(`${format === 'okta' ? 'an Okta export' : 'LDIF'} has no emailVerified field: say --email-verified all or none`);
  }
  yield* rowsOf(format, text, options);
}
