/**
 * Where a spreadsheet may start a cell inside our text: its start, or after any separator a locale uses (`,`, `;` in
 * de/fr/nl Excel, tab) or a line break, optionally behind quotes. A file is opened with whatever separator the reader's
 * locale says, and a quote in mid-field is literal there, so our own quoting cannot be relied on to keep a cell whole.
 */
const CELL_START_BEFORE_FORMULA = /(^|[,;\t\r\n])("*)(?=[=+\-@\t\r])/g;

/**
 * One CSV cell, quoted when needed. Every place a spreadsheet could start a cell that would run as a formula gets an
 * apostrophe (OWASP CSV injection guidance), so an export never carries `=cmd|...` to a manager's desk.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const raw = value instanceof Date ? value.toISOString() : String(value);
  const text = raw.replace(CELL_START_BEFORE_FORMULA, "$1$2'");
  return /[",;\t\r\n']/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
