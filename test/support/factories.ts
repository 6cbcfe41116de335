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
