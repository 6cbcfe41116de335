import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../../src/common/csv.js';

/**
 * Splits a CSV text the way a spreadsheet does for the given separator: a quote opens a quoted field only as the
 * field's first character (elsewhere it is literal), `""` inside is a quote, and an unquoted line break ends the row.
 */
function cellsAs(line: string, separator: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === separator || c === '\n') cells.push(cell), (cell = '');
    else cell += c;
  }
  cells.push(cell);
  return cells;
}

describe('csvCell', () => {
  it.each(['=cmd|/C calc!A0', '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1'])('neutralises the formula %j', (value) => {
    expect(csvCell(value)).toMatch(/^"?'/);
  });
  it('quotes separators and doubles quotes', () => {
    expect(csvRow(['a,b', 'say "hi"', null, 3])).toBe('"a,b","say ""hi""",,3\r\n');
  });

  const HIDDEN = [
    'Smith;=HYPERLINK("http://evil.example","x")',
    'a;+1+1',
    'b;-2+3',
    'c;@SUM(A1)',
    'd;\t=1',
    'e\t=1',
    'f,=1',
    'g;;=1',
    'h;"=1',
    'i\n=1',
    'j\r\n@x',
  ];
  it.each([',', ';', '\t'])('leaves no cell starting with a formula character when the file is opened with %j as separator', (separator) => {
    const line = csvRow(['id', ...HIDDEN, '=top']).replace(/\r\n$/, '');
    const cells = cellsAs(line, separator);
    for (const cell of cells) expect(cell, JSON.stringify(cell)).not.toMatch(/^[=+\-@\t\r]/);
    expect(cells.join(separator === ',' ? ',' : separator)).toContain('HYPERLINK');
  });
  it('keeps the values readable: read with commas, each comes back with an apostrophe before the formula', () => {
    expect(cellsAs(csvRow(HIDDEN).replace(/\r\n$/, ''), ',')).toEqual([
      'Smith;\'=HYPERLINK("http://evil.example","x")',
      "a;'+1+1",
      "b;'-2+3",
      "c;'@SUM(A1)",
      "d;'\t'=1",
      "e\t'=1",
      "f,'=1",
      "g;;'=1",
      'h;"\'=1',
      "i\n'=1",
      "j\r\n'@x",
    ]);
    expect(csvRow(['Jane Doe', 'Sales; EMEA', 'x-y', 42])).toBe('Jane Doe,"Sales; EMEA",x-y,42\r\n');
  });
});
