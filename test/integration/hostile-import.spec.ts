import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportSummary } from '../../src/accounts/accounts-import.service.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { createCampaign, flagAccounts } from '../support/auth-flow.js';
import {
  CSV_HEADER,
  DISPLAY_NAME_EMAILS,
  FORMULA_CELLS,
  KNOWN_PASSWORD,
  type AccountRow,
  accountRow,
  csvLine,
  csvText,
  ndjsonText,
} from '../support/factories.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn } from './dashboard-fixtures.js';

const TEN_MB = 10 * 1024 * 1024;

interface HostileUpload {
  name: string;
  body: () => string | Buffer;
  type?: string;
  status: number;
  /** The error message (refused files) or, for accepted ones, every rejection reason in order. */
  error?: RegExp;
  rejections?: Array<[number, RegExp]>;
  /** Usernames written (accepted files) and usernames that must not exist afterwards. */
  written?: string[];
  absent: string[];
}

/** Usernames of one case: each case owns a range of factory rows, so what it wrote can be checked by name. */
const rowsOf = (base: number, count: number, overrides: Partial<AccountRow> = {}) =>
  Array.from({ length: count }, (_, i) => accountRow(base + i, { passwordHash: '', ...overrides }));
const names = (rows: AccountRow[]) => rows.map((r) => r.username);

const good = rowsOf(100, 2);
const header = rowsOf(200, 2);
const missing = rowsOf(300, 1);
const huge = rowsOf(400, 2);
const hugeNdjson = rowsOf(450, 2);
const utf8 = rowsOf(500, 2);
const bom = rowsOf(600, 2);
const bomNdjson = rowsOf(650, 1);
const dupes = rowsOf(700, 2);
const formulas = FORMULA_CELLS.map((cell, i) => accountRow(800 + i, { passwordHash: '', displayName: cell, orgUnit: FORMULA_CELLS[(i + 1) % FORMULA_CELLS.length] }));
const tricks = DISPLAY_NAME_EMAILS.map((email, i) => accountRow(900 + i, { passwordHash: '', email }));
const trickKeeper = accountRow(950, { passwordHash: '' });
const quote = rowsOf(1000, 1);
const proto = rowsOf(1100, 1);

const CASES: HostileUpload[] = [
  {
    name: 'a wrong header',
    body: () => csvText(header, 'user,mail,name,ou,lang,verified,hash'),
    status: 400,
    error: /^line 1: wrong header: unknown column "user"; expected username,email,displayName,orgUnit,locale,emailVerified,password\|passwordHash/,
    absent: names(header),
  },
  {
    name: 'missing columns',
    body: () => `username,email,passwordHash\n${missing.map((r) => `${r.username},${r.email},`).join('\n')}\n`,
    status: 400,
    error: /wrong header: missing columns displayName, orgUnit, locale, emailVerified/,
    absent: names(missing),
  },
  {
    name: 'no password column',
    body: () => csvText(missing, 'username,email,displayName,orgUnit,locale,emailVerified').replace(/,\n/g, '\n'),
    status: 400,
    error: /wrong header: expected exactly one of the columns password or passwordHash/,
    absent: names(missing),
  },
  {
    name: 'a 10 MB CSV line after a good one',
    body: () => csvText([huge[0], { ...huge[1], displayName: 'x'.repeat(TEN_MB) }]),
    status: 400,
    error: /^line 3: a line is longer than 65536 bytes$/,
    absent: names(huge),
  },
  {
    name: 'a 10 MB file without a line break',
    body: () => 'u'.repeat(TEN_MB),
    status: 400,
    error: /^line 1: a line is longer than 65536 bytes$/,
    absent: [],
  },
  {
    name: 'a 10 MB NDJSON line after a good one',
    type: 'application/x-ndjson',
    body: () => ndjsonText([{ ...hugeNdjson[0] }, { ...hugeNdjson[1], displayName: 'x'.repeat(TEN_MB) }]),
    status: 400,
    error: /^line 2: a line is longer than 65536 bytes$/,
    absent: names(hugeNdjson),
  },
  {
    name: 'invalid UTF-8 after a good line',
    body: () => Buffer.concat([Buffer.from(csvText([utf8[0]])), Buffer.from(`${utf8[1].username},x@example.org,`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(',fin,en,true,\n')]),
    status: 400,
    error: /^the file is not valid UTF-8 \(invalid bytes after byte \d+\)$/,
    absent: names(utf8),
  },
  {
    name: 'a file that ends inside a UTF-8 character',
    body: () => Buffer.concat([Buffer.from(csvText([utf8[0]]).trimEnd()), Buffer.from([0xe2, 0x82])]),
    status: 400,
    error: /^the file is not valid UTF-8 \(it ends inside a character\)$/,
    absent: names(utf8),
  },
  {
    name: 'a UTF-16 export (Excel "Unicode text")',
    body: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csvText([utf8[0]]), 'utf16le')]),
    status: 400,
    error: /not valid UTF-8/,
    absent: names(utf8),
  },
  {
    name: 'a PDF sent as text/csv',
    body: () => Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from([0x25, 0xe2, 0xe3, 0xcf, 0xd3, 0x0a]), Buffer.alloc(64, 0x80)]),
    status: 400,
    error: /not valid UTF-8/,
    absent: [],
  },
  { name: 'a 0-byte file', body: () => '', status: 400, error: /^the file is empty$/, absent: [] },
  { name: 'a 0-byte NDJSON file', type: 'application/x-ndjson', body: () => '', status: 400, error: /^the file is empty$/, absent: [] },
  { name: 'a header and nothing else', body: () => `${CSV_HEADER}\n`, status: 400, error: /^the file has no account rows$/, absent: [] },
  { name: 'only a byte-order mark', body: () => '\uFEFF', status: 400, error: /^the file has no header row$/, absent: [] },
  {
    name: 'a quote that never closes',
    body: () => csvText([good[0], `"${csvLine(quote[0])}`]),
    status: 400,
    error: /^line 3: /,
    absent: [...names(quote), good[0].username],
  },
  {
    name: 'a byte-order mark (CSV)',
    body: () => `\uFEFF${csvText(bom)}`,
    status: 200,
    written: names(bom),
    absent: [],
  },
  {
    name: 'a byte-order mark (NDJSON)',
    type: 'application/x-ndjson',
    body: () => `\uFEFF${ndjsonText(bomNdjson.map((r) => ({ ...r })))}`,
    status: 200,
    written: names(bomNdjson),
    absent: [],
  },
  {
    name: 'duplicate usernames within one file (also differing only in case)',
    body: () => csvText([dupes[0], dupes[1], { ...dupes[0], orgUnit: 'second' }, { ...dupes[1], username: dupes[1].username.toUpperCase() }]),
    status: 200,
    rejections: [
      [4, new RegExp(`^username "${dupes[0].username}" already appears on line 2$`)],
      [5, new RegExp(`^username "${dupes[1].username}" already appears on line 3$`)],
    ],
    written: names(dupes),
    absent: [],
  },
  {
    name: 'formula-injection cells',
    body: () => csvText(formulas),
    status: 200,
    written: names(formulas),
    absent: [],
  },
  {
    name: 'emails with display-name and header tricks',
    body: () => csvText([trickKeeper, ...tricks]),
    status: 200,
    rejections: tricks.map((_, i) => [3 + i, /^email (is not a plain address like name@example.org|contains control characters)(;|$)/]),
    written: [trickKeeper.username],
    absent: names(tricks),
  },
  {
    name: 'NDJSON prototype keys and non-objects',
    type: 'application/x-ndjson',
    body: () => ndjsonText([`{"__proto__":{"isAdmin":true},${JSON.stringify(proto[0]).slice(1)}`, '[1,2]', 'null', '"text"']),
    status: 200,
    rejections: [
      [1, /^unknown field "__proto__"$/],
      [2, /^expected a JSON object$/],
      [3, /^expected a JSON object$/],
      [4, /^expected a JSON object$/],
    ],
    absent: names(proto),
  },
];

describe('hostile import files over HTTP', () => {
  let t: TestApp;
  let responder: string;
  let healthy = 0;

  const upload = (body: string | Buffer, type = 'text/csv') =>
    fetch(`${t.baseUrl}/api/accounts/import`, { method: 'POST', headers: { authorization: `Bearer ${responder}`, 'content-type': type }, body });
  const existing = async (usernames: string[]) =>
    (await t.prisma.account.findMany({ where: { username: { in: usernames.map((u) => u.toLowerCase()) } }, select: { username: true } })).map((a) => a.username).sort();

  /** The same app still answers: /health, and a valid import of a new account right after. */
  async function stillServing(): Promise<void> {
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    healthy += 1;
    const row = accountRow(90_000 + healthy, { passwordHash: await t.get(PasswordHasherService).hash(KNOWN_PASSWORD) });
    const res = await upload(csvText([row]));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ rows: 1, created: 1, rejected: 0 });
    expect(await existing([row.username])).toEqual([row.username]);
  }

  beforeAll(async () => {
    // A small pool: an import that leaked its connection on a refused file would starve the ones after it.
    t = await createTestApp({ DATABASE_POOL_SIZE: '4', ROLE: 'api' });
    responder = await t.operatorToken('responder');
  });
  afterAll(() => t?.close());

  it.each(CASES)('$name: answers $status, writes nothing half-done, and keeps serving', async (c) => {
    const before = { accounts: await t.prisma.account.count(), imports: await t.prisma.auditEntry.count({ where: { action: 'accounts.import' } }) };
    const res = await upload(c.body(), c.type);
    const body = (await res.json()) as ImportSummary & { message?: string; statusCode?: number };
    expect(res.status, JSON.stringify(body).slice(0, 300)).toBe(c.status);

    if (c.status >= 400) {
      expect(body.message).toMatch(c.error!);
      // No message echoes the file's content or the server's temp path.
      expect(body.message).not.toMatch(/reset-import-|\/tmp\/|xxxxxxxx/);
      expect(await t.prisma.account.count()).toBe(before.accounts);
      expect(await t.prisma.auditEntry.count({ where: { action: 'accounts.import' } })).toBe(before.imports);
    } else {
      const written = c.written ?? [];
      expect(body).toMatchObject({ created: written.length, rejected: c.rejections?.length ?? 0 });
      expect(body.rejections.map((r) => r.line)).toEqual((c.rejections ?? []).map(([line]) => line));
      body.rejections.forEach((r, i) => expect(r.reason).toMatch(c.rejections![i][1]));
      expect(await existing(written)).toEqual([...written].sort());
      expect(await t.prisma.account.count()).toBe(before.accounts + written.length);
      expect(await t.prisma.auditEntry.count({ where: { action: 'accounts.import' } })).toBe(before.imports + 1);
    }
    expect(await existing(c.absent)).toEqual([]);
    await stillServing();
  });

  it('keeps formula cells as data, and every export neutralises them', async () => {
    const stored = await t.prisma.account.findMany({ where: { username: { in: names(formulas) } }, orderBy: { username: 'asc' } });
    expect(stored.map((a) => a.displayName)).toEqual(FORMULA_CELLS);
    const campaign = await createCampaign(t);
    await flagAccounts(t, campaign.id, stored.map((a) => a.id));
    const manager = await signIn(t, 'manager');
    const exports = [
      await fetch(`${t.baseUrl}/dashboard/campaigns/${campaign.id}/pending.csv`, { headers: { cookie: manager.cookie } }),
      await fetch(`${t.baseUrl}/api/campaigns/${campaign.id}/accounts`, { headers: { authorization: `Bearer ${responder}`, accept: 'text/csv' } }),
      await fetch(`${t.baseUrl}/api/audit`, { headers: { authorization: `Bearer ${responder}`, accept: 'text/csv' } }),
    ];
    const pending = await exports[0].text();
    for (const cell of FORMULA_CELLS) expect(pending, cell).toContain(`"'${cell.replace(/"/g, '""')}"`);
    for (const res of exports) {
      expect(res.status).toBe(200);
      const text = res === exports[0] ? pending : await res.text();
      for (const cell of parseCsv(text).flat()) expect(cell, cell.slice(0, 60)).not.toMatch(/^[=+\-@\t\r]/);
    }
  });

  it('survives an upload cut off mid-body and keeps none of it', async () => {
    const rows = rowsOf(2000, 200);
    const text = csvText(rows);
    await new Promise<void>((resolve) => {
      const url = new URL(`${t.baseUrl}/api/accounts/import`);
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${responder}`, 'content-type': 'text/csv', 'content-length': String(Buffer.byteLength(text)) },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(text.slice(0, Math.floor(text.length / 2)), () => setTimeout(() => req.destroy(), 200));
    });
    expect(await existing(names(rows))).toEqual([]);
    await stillServing();
  });

  it('keeps serving while several hostile uploads run at once', async () => {
    const before = await t.prisma.account.count();
    const hostile = CASES.filter((c) => c.status >= 400).slice(0, 6);
    const replies = await Promise.all(hostile.map((c) => upload(c.body(), c.type)));
    expect(replies.map((r) => r.status)).toEqual(hostile.map(() => 400));
    expect(await t.prisma.account.count()).toBe(before);
    await stillServing();
    expect(await t.get(AuditService).verify()).toMatchObject({ ok: true });
  });
});

/** RFC 4180 cells, enough to check every cell of an export. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}
