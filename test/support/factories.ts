import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const CSV_HEADER = 'username,email,displayName,orgUnit,locale,emailVerified,passwordHash';
/** The password factories give accounts; tests hash it once with PasswordHasherService. */
export const KNOWN_PASSWORD = 'correct horse battery staple';

export interface AccountRow {
  username: string;
  email?: string;
  displayName?: string;
  orgUnit?: string;
  locale?: string;
  emailVerified?: boolean;
  passwordHash?: string;
}

export function accountRow(i: number, overrides: Partial<AccountRow> = {}): AccountRow {
  return {
    username: `user${String(i).padStart(7, '0')}`,
    email: `user${i}@example.org`,
    displayName: `User ${i}`,
    orgUnit: ['finance', 'engineering', 'sales'][i % 3],
    locale: 'en',
    emailVerified: true,
    ...overrides,
  };
}

export function csvLine(r: AccountRow): string {
  const cell = (v: unknown) => {
    const s = v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [r.username, r.email, r.displayName, r.orgUnit, r.locale, r.emailVerified, r.passwordHash].map(cell).join(',');
}

/** Writes a file under the OS temp dir and returns its path. */
export async function tempFile(content: string | Buffer, ext = 'csv'): Promise<string> {
  const file = path.join(tmpdir(), `ro-test-${randomBytes(6).toString('hex')}.${ext}`);
  await writeFile(file, content);
  return file;
}

export async function accountsCsv(count: number, hash = '', start = 1): Promise<string> {
  const lines = [CSV_HEADER];
  for (let i = start; i < start + count; i++) lines.push(csvLine(accountRow(i, { passwordHash: hash })));
  return tempFile(`${lines.join('\n')}\n`);
}

/** An import file's text: the header, then one line per row (a string row is taken as it is). */
export function csvText(rows: Array<AccountRow | string>, header = CSV_HEADER): string {
  return `${[header, ...rows.map((r) => (typeof r === 'string' ? r : csvLine(r)))].join('\n')}\n`;
}

/** NDJSON import text; a string row is taken as it is. */
export function ndjsonText(rows: Array<Record<string, unknown> | string>): string {
  return `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;
}

/** Cells a spreadsheet would run as a formula (OWASP CSV injection); plain data on import, neutralised on export. */
export const FORMULA_CELLS = ["=cmd|' /C calc'!A0", '+SUM(1+1)*cmd|x', '-2+3+cmd|x', '@SUM(1+1)*cmd|x', '=HYPERLINK("http://evil.example","x")'];

/** Email cells that smuggle a display name, a second address or a comment past a lax parser: each is refused. */
export const DISPLAY_NAME_EMAILS = [
  '"Boss" <boss@evil.example>',
  'Alice <alice@example.org>',
  'alice@example.org <mallory@evil.example>',
  'mallory@evil.example (alice@example.org)',
  'alice@example.org, mallory@evil.example',
  '"alice@example.org"@evil.example',
  'alice@example.org\u202e',
  'alice@example.org\r\nBcc: mallory@evil.example',
];
