import { describe, expect, it } from 'vitest';
import { CsvSplitter } from '../../src/accounts/import/csv-splitter.js';

/** Feeds `text` in pieces of `size` characters, as a stream would. */
function split(text: string, size = text.length || 1, maxLineBytes = 1024) {
  const splitter = new CsvSplitter(maxLineBytes);
  const records = [];
  for (let i = 0; i < text.length; i += size) records.push(...splitter.push(text.slice(i, i + size), false));
  records.push(...splitter.push('', true));
  return records;
}

describe('CsvSplitter', () => {
  const text = 'a,b,c\r\n"x, y","say ""hi""",\n\n"two\nlines",2,3\nlast,"",z';
  const expected = [
    { line: 1, cells: ['a', 'b', 'c'] },
    { line: 2, cells: ['x, y', 'say "hi"', ''] },
    { line: 4, cells: ['two\nlines', '2', '3'] },
    { line: 6, cells: ['last', '', 'z'] },
  ];

  it.each([1, 2, 3, 7, 1000])('splits quoted, empty and multi-line cells the same in pieces of %i characters', (size) => {
    expect(split(text, size)).toEqual(expected);
  });

  it('reads a trailing comma as an empty last cell', () => {
    expect(split('a,\nb,c\n')).toEqual([
      { line: 1, cells: ['a', ''] },
      { line: 2, cells: ['b', 'c'] },
    ]);
  });

  it.each([
    ['"open,b\n', /line 1: unreadable CSV: a quoted field is not closed/],
    ['a,b\nx"y,z\n', /line 2: unreadable CSV: a quote inside an unquoted field/],
    ['"a"b,c\n', /line 1: unreadable CSV: a closing quote is followed by more text/],
  ])('refuses %j', (input, message) => {
    expect(() => split(input, 2)).toThrow(message);
  });

  it('refuses a record over the byte limit, counting bytes rather than characters', () => {
    expect(() => split(`ok\n${'x'.repeat(2000)}\n`, 100)).toThrow(/line 2: a line is longer than 1024 bytes/);
    expect(() => split(`${'é'.repeat(600)}\n`)).toThrow(/a line is longer than 1024 bytes/);
    expect(split(`${'é'.repeat(500)}\n`)).toHaveLength(1);
  });
});
