import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../../src/common/csv.js';

describe('csvCell', () => {
  it.each(['=cmd|/C calc!A0', '+1+1', '-2+3', '@SUM(A1)', '\t=1'])('neutralises the formula %j', (value) => {
    expect(csvCell(value)).toMatch(/^"?'/);
  });
  it('quotes separators and doubles quotes', () => {
    expect(csvRow(['a,b', 'say "hi"', null, 3])).toBe('"a,b","say ""hi""",,3\r\n');
  });
});
