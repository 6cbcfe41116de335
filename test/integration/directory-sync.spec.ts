import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Attribute, Change, type Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectorySyncService } from '../../src/accounts/directory/directory-sync.service.js';
import { AccountsCliModule } from '../../src/cli/accounts-cli.module.js';
import { loadConfig } from '../../src/config/app-config.js';
import { PrismaService } from '../../src/prisma/prisma.service.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { BASE_DN, type Person, Slapd, directoryEnv, personDn } from '../support/slapd.js';

const uid = (i: number) => `p${String(i).padStart(5, '0')}`;
function person(i: number): Person {
  return { uid: uid(i), mail: `${uid(i)}@example.org`, cn: `Person ${i}`, ou: i % 4 === 0 ? 'Finance' : 'Engineering', preferredLanguage: i % 10 === 0 ? 'de-de' : undefined };
}
const replace = (type: string, value: string) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });

describe('accounts import --from-directory: 10,000 entries, then idempotent syncs', () => {
  let slapd: Slapd;
  let db: TestDatabase;
  let context: INestApplicationContext;
  let prisma: PrismaService;
  let ldap: Client;
  const sync = (filter?: string) => context.get(DirectorySyncService).sync('test', filter);

  beforeAll(async () => {
    const people = Array.from({ length: 10_000 }, (_, i) => person(i + 1));
    // "bad user" is no username this product takes (a space).
    slapd = await Slapd.create([...people, { uid: 'bad user', mail: 'bad@example.org' }]);
    ldap = await slapd.admin();
    db = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, LOG_LEVEL: 'silent', ...(await directoryEnv(slapd)) });
    context = await NestFactory.createApplicationContext(AccountsCliModule.forRoot(config), { logger: false });
    prisma = context.get(PrismaService);
  });
  afterAll(async () => {
    await ldap?.unbind();
    await context?.close();
    await db?.drop();
    await slapd?.destroy();
  });

  it('imports, then reports exactly what changed in the directory, and never touches a password', async () => {
    // A local account (own password) already holds p00005: the directory entry may not take it over.
    const local = await prisma.account.create({ data: { username: 'p00005', email: 'local@example.org', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo' } });

    const first = await sync();
    expect(first).toMatchObject({ entries: 10_001, created: 9_999, changed: 0, unchanged: 0, gone: 0, mailChanged: 0, rejected: 2 });
    expect(first.rejections).toEqual([
      { dn: personDn('bad user'), reason: 'username may only contain letters, digits and . _ @ + -' },
      { dn: personDn('p00005'), reason: 'username "p00005" belongs to an account that does not sign in through the directory' },
    ]);
    expect(await prisma.account.count({ where: { directoryDn: { not: null } } })).toBe(9_999);
    expect(await prisma.account.count({ where: { directoryDn: { not: null }, passwordHash: { not: null } } })).toBe(0);
    expect(await prisma.account.findUniqueOrThrow({ where: { username: 'p00010' } })).toMatchObject({
      directoryDn: 'uid=p00010,ou=people,dc=example,dc=test',
      email: 'p00010@example.org',
      emailVerified: true,
      displayName: 'Person 10',
      orgUnit: 'Engineering',
      locale: 'de-DE',
      passwordHash: null,
      disabled: false,
    });
    expect(await prisma.account.findUniqueOrThrow({ where: { id: local.id } })).toEqual(local);

    const again = await sync();
    expect(again).toMatchObject({ entries: 10_001, created: 0, changed: 0, unchanged: 9_999, gone: 0, mailChanged: 0, rejected: 2 });

    // In the directory: 5 added, 3 mail addresses and 4 departments changed, 6 deleted, 1 moved to another branch.
    for (let i = 20_001; i <= 20_005; i++) {
      const p = { ...person(i), ou: 'Sales' };
      await ldap.add(personDn(p.uid), { objectClass: 'inetOrgPerson', uid: p.uid, cn: p.cn!, sn: p.uid, mail: p.mail!, ou: 'Sales' });
    }
    for (const i of [11, 12, 13]) await ldap.modify(personDn(uid(i)), replace('mail', `${uid(i)}@new.example.org`));
    for (const i of [301, 302, 303, 305]) await ldap.modify(personDn(uid(i)), replace('ou', 'Legal'));
    for (let i = 101; i <= 106; i++) await ldap.del(personDn(uid(i)));
    await ldap.modifyDN(personDn('p00200'), `uid=p00200,ou=staff,${BASE_DN}`);

    // A link mailed to p00011's old address, and a session of the deleted p00101.
    const p11 = await prisma.account.findUniqueOrThrow({ where: { username: 'p00011' } });
    const p101 = await prisma.account.findUniqueOrThrow({ where: { username: 'p00101' } });
    const link = await prisma.resetToken.create({ data: { accountId: p11.id, tokenHash: 'a'.repeat(64), expiresAt: new Date(Date.now() + 600_000) } });
    const session = await prisma.session.create({ data: { idHash: 'b'.repeat(64), accountId: p101.id, kind: 'pre_reset', csrfToken: 'c', expiresAt: new Date(Date.now() + 600_000) } });

    const changed = await sync();
    expect(changed).toMatchObject({ entries: 10_000, created: 5, changed: 8, unchanged: 9_985, gone: 6, mailChanged: 3, rejected: 2 });
    expect(await prisma.account.count({ where: { directoryDn: { not: null }, disabled: true } })).toBe(6);
    expect(await prisma.account.findUniqueOrThrow({ where: { username: 'p00200' } })).toMatchObject({ directoryDn: 'uid=p00200,ou=staff,dc=example,dc=test', disabled: false });
    expect(await prisma.account.findUniqueOrThrow({ where: { username: 'p00011' } })).toMatchObject({ email: 'p00011@new.example.org', emailVerified: true });
    expect((await prisma.resetToken.findUniqueOrThrow({ where: { id: link.id } })).revokedAt).toBeInstanceOf(Date);
    expect((await prisma.session.findUniqueOrThrow({ where: { idHash: session.idHash } })).revokedAt).toBeInstanceOf(Date);
    expect(await prisma.account.count({ where: { orgUnit: 'Legal' } })).toBe(4);
    expect(await prisma.account.count({ where: { directoryDn: { not: null }, passwordHash: { not: null } } })).toBe(0);

    expect(await sync()).toMatchObject({ entries: 10_000, created: 0, changed: 0, unchanged: 9_998, gone: 0, mailChanged: 0, rejected: 2 });

    // A filtered sync sees part of the directory, so it cannot tell what is gone. Finance: 2,500 minus the deleted p00104.
    expect(await sync('(ou=Finance)')).toMatchObject({ entries: 2_499, created: 0, changed: 0, unchanged: 2_499, gone: null, rejected: 0 });
    expect(await prisma.account.count({ where: { directoryDn: { not: null }, disabled: true } })).toBe(6);

    const audits = await prisma.auditEntry.findMany({ where: { action: 'accounts.directory-sync' }, orderBy: { id: 'asc' } });
    expect(audits).toHaveLength(5);
    expect(audits[2].details).toMatchObject({ created: 5, changed: 8, gone: 6, mailChanged: 3 });
  });

  it('refuses a search that matches nothing instead of calling every account gone', async () => {
    const before = await prisma.account.count({ where: { disabled: true } });
    await expect(sync('(ou=NoSuchDepartment)')).rejects.toThrow('the directory has no entries matching');
    expect(await prisma.account.count({ where: { disabled: true } })).toBe(before);
  });
});
