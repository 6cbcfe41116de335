const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell, quoted when needed. Cells a spreadsheet would run as a formula get a leading
 * apostrophe (OWASP CSV injection guidance), so an export never carries `=cmd|...` to a manager's desk.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n']/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
