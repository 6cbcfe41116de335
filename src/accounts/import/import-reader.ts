import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { checkHeader, expectedHeader } from './account-record.js';

export type ImportFormat = 'csv' | 'ndjson';

/** A problem with the whole file: nothing is written when one is found. */
export class ImportFileError extends Error {
  constructor(message: string, readonly line?: number) {
    super(line ? `line ${line}: ${message}` : message);
  }
}

export interface RawRow {
  line: number;
  /** Column name to cell value, or a reason the line cannot be read at all. */
  cells: Record<string, unknown> | { error: string };
}

export function formatFromName(fileName: string): ImportFormat {
  return /\.(nd)?jsonl?$/i.test(fileName) ? 'ndjson' : 'csv';
}

/** Decodes UTF-8 strictly: a file with invalid bytes is refused instead of stored as mojibake. */
async function* decodeUtf8(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  for await (const chunk of chunks) {
    try {
      yield decoder.decode(chunk, { stream: true });
    } catch {
      throw new ImportFileError(`the file is not valid UTF-8 (invalid bytes after byte ${offset})`);
    }
    offset += chunk.length;
  }
  try {
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch {
    throw new ImportFileError('the file is not valid UTF-8 (it ends inside a character)');
  }
}

async function* csvRows(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<RawRow> {
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: maxLineBytes,
    info: true,
  });
  const feeding = (async () => {
    try {
      for await (const piece of text) if (!parser.write(piece)) await new Promise((r) => parser.once('drain', r));
      parser.end();
    } catch (err) {
      parser.destroy(err as Error);
    }
  })();
  let header: string[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((c) => c.trim());
        const problem = checkHeader(header);
        if (problem) throw new ImportFileError(`wrong header: ${problem}; expected ${expectedHeader()}`, info.lines);
        continue;
      }
      if (record.length !== header.length) {
        yield { line: info.lines, cells: { error: `expected ${header.length} columns, found ${record.length}` } };
        continue;
      }
      const cells: Record<string, unknown> = {};
      header.forEach((column, i) => (cells[column] = record[i]));
      yield { line: info.lines, cells };
    }
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    const e = err as { code?: string; lines?: number; message: string };
    if (e.code === 'CSV_MAX_RECORD_SIZE') throw new ImportFileError(`a line is longer than ${maxLineBytes} bytes`, e.lines);
    if (e.code?.startsWith('CSV_')) throw new ImportFileError(`unreadable CSV: ${e.message}`, e.lines);
    throw err;
  } finally {
    await feeding;
  }
  if (!header) throw new ImportFileError('the file has no header row');
}

async function* ndjsonRows(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<RawRow> {
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
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const row = toRow(buffer.slice(0, newline).replace(/\r$/, ''));
      buffer = buffer.slice(newline + 1);
      if (row) yield row;
    }
    if (buffer.length > maxLineBytes) throw new ImportFileError(`a line is longer than ${maxLineBytes} bytes`, line + 1);
  }
  const last = toRow(buffer);
  if (last) yield last;
}

/** Streams the rows of an import file with their line numbers, in bounded memory. */
export async function* readImportFile(
  filePath: string,
  format: ImportFormat,
  limits: { maxBytes: number; maxLineBytes: number },
): AsyncGenerator<RawRow> {
  const info = await stat(filePath).catch((err: NodeJS.ErrnoException) => {
    throw new ImportFileError(`cannot read ${filePath}: ${err.code ?? err.message}`);
  });
  if (!info.isFile()) throw new ImportFileError(`${filePath} is not a file`);
  if (info.size === 0) throw new ImportFileError('the file is empty');
  if (info.size > limits.maxBytes) throw new ImportFileError(`the file is larger than ${limits.maxBytes} bytes`);
  const text = decodeUtf8(createReadStream(filePath, { highWaterMark: 256 * 1024 }));
  yield* format === 'csv' ? csvRows(text, limits.maxLineBytes) : ndjsonRows(text, limits.maxLineBytes);
}
