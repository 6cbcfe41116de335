import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountsService } from '../../src/accounts/accounts.service.js';
import { csvCell } from '../../src/common/csv.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { registerAccountsCommands } from '../../src/cli/commands/accounts.commands.js';
import { runCommands } from '../support/cli.js';
import { CSV_HEADER, KNOWN_PASSWORD, accountRow, accountsCsv, csvLine, tempFile } from '../support/factories.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('account import', () => {
  let t: TestApp;
  let accounts: AccountsService;
  let hash: string;

  beforeAll(async () => {
    t = await createTestApp();
    accounts = t.get(AccountsService);
    hash = await t.get(PasswordHasherService).hash(KNOWN_PASSWORD);
  });
  afterAll(() => t.close());

  it('imports 100,000 rows with the right counts, then updates idempotently', async () => {
    const file = await accountsCsv(100_000, hash);
    const first = await accounts.importFile(file, { format: 'csv' }, 'test');
    expect(first).toMatchObject({ rows: 100_000, created: 100_000, updated: 0, rejected: 0 });
    expect(await t.prisma.account.count()).toBe(100_000);

    const again = await accounts.importFile(file, { format: 'csv' }, 'test');
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 100_000 });

    const changed = await tempFile(`${CSV_HEADER}\n${csvLine(accountRow(5, { passwordHash: hash, orgUnit: 'legal' }))}\n`);
    expect(await accounts.importFile(changed, { format: 'csv' }, 'test')).toMatchObject({ updated: 1, created: 0 });
    expect((await t.prisma.account.findUnique({ where: { username: 'user0000005' } }))?.orgUnit).toBe('legal');
  });

  it('verifies imported bcrypt and argon2 hashes and hashes demo passwords on the way in', async () => {
    const file = await tempFile(
      'username,email,displayName,orgUnit,locale,emailVerified,password\nPlain.User,plain@example.org,Plain,ops,en,yes,demo password one\n',
    );
    expect(await accounts.importFile(file, { format: 'csv', allowPlaintext: true }, 'test')).toMatchObject({ created: 1 });
    const row = await t.prisma.account.findUniqueOrThrow({ where: { username: 'plain.user' } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row.passwordHash).not.toContain('demo password one');
    expect(await t.get(PasswordHasherService).verify(row.passwordHash!, 'demo password one')).toBe(true);
    // bcryptjs "$2b$04$" hash of "legacy secret"
    const bcrypt = (await import('bcryptjs')).default.hashSync('legacy secret', 4);
    expect(await t.get(PasswordHasherService).verify(bcrypt, 'legacy secret')).toBe(true);
    expect(await t.get(PasswordHasherService).verify(bcrypt, 'wrong')).toBe(false);
  });

  it('gives per-line errors for bad rows and writes only the good ones', async () => {
    const lines = [
      CSV_HEADER,
      csvLine(accountRow(900001, { passwordHash: hash })),
      csvLine(accountRow(900002, { email: '"Boss" <boss@evil.example>' })),
      'short,row',
      csvLine(accountRow(900001, { passwordHash: hash })),
      csvLine(accountRow(900003, { passwordHash: 'md5:abc' })),
    ];
    const summary = await accounts.importFile(await tempFile(lines.join('\n')), { format: 'csv' }, 'test');
    expect(summary).toMatchObject({ rows: 5, created: 1, rejected: 4 });
    expect(summary.rejections.map((r) => r.line)).toEqual([3, 4, 5, 6]);
    expect(summary.rejections[0].reason).toMatch(/plain address/);
    expect(summary.rejections[1].reason).toMatch(/expected 7 columns, found 2/);
    expect(summary.rejections[2].reason).toMatch(/already appears on line 2/);
    expect(await t.prisma.account.count({ where: { username: { in: ['user0900002', 'user0900003'] } } })).toBe(0);
  });

  it.each([
    ['a wrong header', 'user,mail\nalice,alice@example.org\n', /wrong header/],
    ['an empty file', '', /empty/],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${CSV_HEADER}\nzz,`), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from(',x,fin,en,true,\n')]), /not valid UTF-8/],
    ['an unclosed quote', `${CSV_HEADER}\n"zz,zz@example.org,x,fin,en,true,\n`, /unreadable CSV|quote/i],
    ['a header only', `${CSV_HEADER}\n`, /no account rows/],
  ])('refuses %s before writing anything', async (_name, content, message) => {
    const before = await t.prisma.account.count();
    await expect(accounts.importFile(await tempFile(content), { format: 'csv' }, 'test')).rejects.toThrow(message);
    expect(await t.prisma.account.count()).toBe(before);
  });

  it('refuses a 10 MB line with a clear error and writes nothing', async () => {
    const before = await t.prisma.account.count();
    const huge = csvLine(accountRow(930001, { displayName: 'x'.repeat(10 * 1024 * 1024), passwordHash: hash }));
    const file = await tempFile(`${CSV_HEADER}\n${csvLine(accountRow(930000, { passwordHash: hash }))}\n${huge}\n`);
    await expect(accounts.importFile(file, { format: 'csv' }, 'test')).rejects.toThrow(/line 3: a line is longer than 65536 bytes/);
    const ndjson = await tempFile(`${JSON.stringify({ ...accountRow(930002), displayName: 'x'.repeat(10 * 1024 * 1024) })}\n`, 'ndjson');
    await expect(accounts.importFile(ndjson, { format: 'ndjson' }, 'test')).rejects.toThrow(/a line is longer than 65536 bytes/);
    expect(await t.prisma.account.count()).toBe(before);
  });

  it('stores formula-like cells verbatim (exports neutralise them) and refuses display-name email tricks', async () => {
    const formula = "=cmd|' /C calc'!A0";
    const tricks = [
      '"Boss" <boss@evil.example>',
      'Alice <alice@example.org>',
      'alice@example.org <mallory@evil.example>',
      'mallory@evil.example (alice@example.org)',
      'alice@example.org, mallory@evil.example',
      '=HYPERLINK("http://evil.example")@example.org',
    ];
    const lines = [
      CSV_HEADER,
      csvLine(accountRow(940001, { displayName: formula, orgUnit: '+SUM(1+1)', passwordHash: hash })),
      csvLine(accountRow(940002, { displayName: '@import \\share\\x', orgUnit: '-2+3', passwordHash: hash })),
      ...tricks.map((email, i) => csvLine(accountRow(940010 + i, { email, passwordHash: hash }))),
    ];
    const summary = await accounts.importFile(await tempFile(lines.join('\n')), { format: 'csv' }, 'test');
    expect(summary).toMatchObject({ rows: 2 + tricks.length, created: 2, rejected: tricks.length });
    expect(summary.rejections.map((r) => r.line)).toEqual(tricks.map((_, i) => 4 + i));
    for (const r of summary.rejections) expect(r.reason).toMatch(/email is not a plain address/);
    const stored = await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0940001' } });
    expect(stored).toMatchObject({ displayName: formula, orgUnit: '+SUM(1+1)' });
    expect(csvCell(stored.displayName)).toBe(`"'${formula}"`);
    expect((await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0940002' } })).displayName).toBe('@import \\share\\x');
    expect(await t.prisma.account.count({ where: { username: { gte: 'user0940010', lte: 'user0940099' } } })).toBe(0);
  });

  it('keeps line numbers right after a record that spans lines', async () => {
    const lines = [
      CSV_HEADER,
      csvLine(accountRow(950001, { displayName: 'Two\nlines', passwordHash: hash })),
      csvLine(accountRow(950002, { passwordHash: hash })),
      csvLine(accountRow(950003, { locale: 'english', passwordHash: hash })),
      csvLine(accountRow(950002, { passwordHash: hash })),
    ];
    const summary = await accounts.importFile(await tempFile(lines.join('\r\n')), { format: 'csv' }, 'test');
    expect(summary).toMatchObject({ rows: 4, created: 1, rejected: 3 });
    expect(summary.rejections).toEqual([
      { line: 2, reason: 'displayName contains control characters' },
      { line: 5, reason: 'locale must look like en or de-DE' },
      { line: 6, reason: 'username "user0950002" already appears on line 4' },
    ]);
  });

  it('accepts a byte-order mark and NDJSON', async () => {
    const bom = await tempFile(`\uFEFF${CSV_HEADER}\n${csvLine(accountRow(910001, { passwordHash: hash }))}\n`);
    expect(await accounts.importFile(bom, { format: 'csv' }, 'test')).toMatchObject({ created: 1, rejected: 0 });
    const ndjson = await tempFile(
      [
        JSON.stringify({ ...accountRow(910002), emailVerified: true, passwordHash: hash }),
        '{not json',
        JSON.stringify({ ...accountRow(910003), extra: 1 }),
      ].join('\n'),
      'ndjson',
    );
    const summary = await accounts.importFile(ndjson, { format: 'ndjson' }, 'test');
    expect(summary).toMatchObject({ created: 1, rejected: 2 });
    expect(summary.rejections.map((r) => r.reason)).toEqual(['not valid JSON', 'unknown field "extra"']);
  });

  it('updates changed accounts, leaves unchanged ones alone and creates new ones in one file', async () => {
    const first = await tempFile([CSV_HEADER, ...[960001, 960002].map((i) => csvLine(accountRow(i, { passwordHash: hash })))].join('\n'));
    expect(await accounts.importFile(first, { format: 'csv' }, 'test')).toMatchObject({ created: 2 });
    const unchanged = await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0960002' } });
    const lines = [
      CSV_HEADER,
      csvLine(accountRow(960001, { orgUnit: 'legal' })),
      csvLine(accountRow(960002, { passwordHash: hash })),
      csvLine(accountRow(960003, { passwordHash: hash })),
      csvLine(accountRow(960003, { orgUnit: 'second' })),
      csvLine(accountRow(960001, { orgUnit: 'third' })),
    ];
    const summary = await accounts.importFile(await tempFile(lines.join('\n')), { format: 'csv' }, 'test');
    expect(summary).toMatchObject({ rows: 5, created: 1, updated: 1, unchanged: 1, rejected: 2 });
    expect(summary.rejections.map((r) => r.line)).toEqual([5, 6]);
    const updated = await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0960001' } });
    // An empty passwordHash cell keeps the stored hash.
    expect(updated).toMatchObject({ orgUnit: 'legal', passwordHash: hash });
    expect(await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0960002' } })).toEqual(unchanged);
    expect(await t.prisma.account.findUniqueOrThrow({ where: { username: 'user0960003' } })).toMatchObject({ orgUnit: accountRow(960003).orgUnit });
  });

  it('resetctl accounts import runs in its own small module and prints the summary', async () => {
    const file = await tempFile(`${CSV_HEADER}\n${csvLine(accountRow(970001, { passwordHash: hash }))}\nshort,row\n`);
    const { out: output, exitCode } = await runCommands(registerAccountsCommands, [['accounts', 'import', file]], { DATABASE_URL: t.config.database.url });
    expect(JSON.parse(output)).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(exitCode).toBe(3);
    expect(await t.prisma.account.count({ where: { username: 'user0970001' } })).toBe(1);
    const audit = await t.prisma.auditEntry.findFirst({ where: { action: 'accounts.import' }, orderBy: { id: 'desc' } });
    expect(audit?.actor).toMatch(/^cli:/);
  });

  it('imports over HTTP for responders only', async () => {
    const body = `${CSV_HEADER}\n${csvLine(accountRow(920001, { passwordHash: hash }))}\n`;
    const post = (token?: string, type = 'text/csv') =>
      fetch(`${t.baseUrl}/api/accounts/import`, {
        method: 'POST',
        headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
    expect((await post()).status).toBe(401);
    expect((await post(await t.operatorToken('manager'))).status).toBe(403);
    const responder = await t.operatorToken('responder');
    expect((await post(responder, 'application/pdf')).status).toBe(415);
    const ok = await post(responder);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ created: 1 });
    const audit = await t.prisma.auditEntry.findFirst({ where: { action: 'accounts.import' }, orderBy: { id: 'desc' } });
    expect(audit?.actor).toBe('operator:responder2');
  });
});
