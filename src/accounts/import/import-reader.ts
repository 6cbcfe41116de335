import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { checkHeader, expectedHeader } from './account-record.js';
import { CsvSplitter } from './csv-splitter.js';
import { ImportFileError } from './import-file-error.js';

export type ImportFormat = 'csv' | 'ndjson';

export { ImportFileError };

export interface RawRow {
  line: number;
  /** Column name to cell value, or a reason the line cannot be read at all. */
  cells: Record<string, unknown> | { error: string };
}

export function formatFromName(fileName: string): ImportFormat {
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

async function* csvRows(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<RawRow[]> {
  const splitter = new CsvSplitter(maxLineBytes);
  let header: string[] | null = null;
  const toRows = (records: ReturnType<CsvSplitter['push']>): RawRow[] => {
    const rows: RawRow[] = [];
    for (const { line, cells: record } of records) {
      if (!header) {
        header = record.map((c) => c.trim());
        const problem = checkHeader(header);
        if (problem) throw new ImportFileError(`wrong header: ${problem}; expected ${expectedHeader()}`, line);
        continue;
      }
      if (record.length !== header.length) {
        rows.push({ line, cells: { error: `expected ${header.length} columns, found ${record.length}` } });
        continue;
      }
      const cells: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) cells[header[i]] = record[i];
      rows.push({ line, cells });
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

/** Streams the rows of an import file with their line numbers, a chunk of rows at a time, in bounded memory. */
export async function* readImportFile(
  filePath: string,
  format: ImportFormat,
  limits: { maxBytes: number; maxLineBytes: number },
): AsyncGenerator<RawRow[]> {
  const info = await stat(filePath).catch((err: NodeJS.ErrnoException) => {
    throw new ImportFileError(`cannot read ${filePath}: ${err.code ?? err.message}`);
  });
  if (!info.isFile()) throw new ImportFileError(`${filePath} is not a file`);
  if (info.size === 0) throw new ImportFileError('the file is empty');
  if (info.size > limits.maxBytes) throw new ImportFileError(`the file is larger than ${limits.maxBytes} bytes`);
  const text = decodeUtf8(createReadStream(filePath, { highWaterMark: 256 * 1024 }));
  yield* format === 'csv' ? csvRows(text, limits.maxLineBytes) : ndjsonRows(text, limits.maxLineBytes);
}
