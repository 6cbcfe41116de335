import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PasswordChangeService } from '../../src/passwords/password-change.service.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { Browser } from '../support/auth-flow.js';
import { accountRow, csvText } from '../support/factories.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const BREACHED = 'breached password from 2019';
const SECOND = 'second imported password 77';
const CHOSEN = 'a password chosen here after the breach';

/** An import must never lower an account's security (issue 13, item 2). */
describe('re-imports never rewrite credentials behind the user', () => {
  let t: TestApp;
  let responder: string;
  let admin: string;
  let breachedHash: string;
  let secondHash: string;

  const upload = async (token: string, body: string, query = '') => {
    const res = await fetch(`${t.baseUrl}/api/accounts/import${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { keptChanges?: unknown; message?: string } };
  };
  const account = (username: string) => t.prisma.account.findUniqueOrThrow({ where: { username } });
  const canSignIn = async (username: string, password: string) => (await new Browser(t.baseUrl).login(username, password)).status === 303;

  beforeAll(async () => {
    t = await createTestApp();
    responder = await t.operatorToken('responder');
    admin = await t.operatorToken('admin');
    breachedHash = bcrypt.hashSync(BREACHED, 4);
    secondHash = bcrypt.hashSync(SECOND, 4);
  });
  afterAll(() => t.close());

  it('keeps a password reset here when the pre-breach export is imported again, even with --update-credentials', async () => {
    const row = accountRow(1001, { passwordHash: breachedHash });
    expect((await upload(responder, csvText([row]))).body).toMatchObject({ created: 1 });
    const { id } = await account(row.username);
    await t.get(PasswordChangeService).setPassword({ accountId: id, password: CHOSEN, actor: `user:${row.username}`, action: 'account.password.reset' });
    const afterReset = await account(row.username);

    for (const [token, query] of [[responder, ''], [admin, '?updateCredentials=true']]) {
      const again = await upload(token, csvText([row]), query);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ created: 0, kept: 1, keptChanges: [{ line: 2, reason: 'kept: password changed here since' }] });
      expect(await account(row.username)).toEqual(afterReset);
    }
    expect(await canSignIn(row.username, BREACHED)).toBe(false);
    expect(await canSignIn(row.username, CHOSEN)).toBe(true);
  });

  it('without --update-credentials reports changed hash, email and emailVerified as kept and applies only the rest', async () => {
    const row = accountRow(1002, { passwordHash: breachedHash, email: 'lena@example.org' });
    await upload(responder, csvText([row]));
    const before = await account(row.username);
    const changed = { ...row, passwordHash: secondHash, email: 'mallory@evil.example', emailVerified: false, orgUnit: 'legal' };

    const reply = await upload(responder, csvText([changed]));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      updated: 1,
      kept: 1,
      credentialsUpdated: 0,
      keptChanges: [{ line: 2, reason: 'kept: passwordHash, email, emailVerified differ; applied only with --update-credentials' }],
    });
    expect(await account(row.username)).toMatchObject({
      orgUnit: 'legal',
      email: 'lena@example.org',
      emailVerified: true,
      passwordHash: breachedHash,
      passwordChangedAt: before.passwordChangedAt,
    });
  });

  it('refuses updateCredentials to responders (403) and changes nothing', async () => {
    const row = accountRow(1003, { passwordHash: breachedHash });
    await upload(responder, csvText([row]));
    const before = await account(row.username);
    const reply = await upload(responder, csvText([{ ...row, email: 'mallory@evil.example' }]), '?updateCredentials=true');
    expect(reply.status).toBe(403);
    expect(await account(row.username)).toEqual(before);
  });

  it("applies an admin's --update-credentials, audits each account without values, and signs it out everywhere", async () => {
    const rows = [accountRow(1004, { passwordHash: breachedHash }), accountRow(1005, { passwordHash: breachedHash })];
    await upload(responder, csvText(rows));
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(rows[0].username, BREACHED)).status).toBe(303);
    const target = await account(rows[0].username);
    const bystander = await account(rows[1].username);
    await t.prisma.resetToken.create({ data: { tokenHash: 'f'.repeat(64), accountId: target.id, expiresAt: new Date(Date.now() + 600_000) } });

    const reply = await upload(admin, csvText([{ ...rows[0], passwordHash: secondHash, email: 'lena.new@example.org' }, rows[1]]), '?updateCredentials=true');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ updated: 1, unchanged: 1, credentialsUpdated: 1, kept: 0 });

    const after = await account(rows[0].username);
    expect(after).toMatchObject({ email: 'lena.new@example.org', passwordHash: secondHash });
    expect(after.passwordChangedAt!.getTime()).toBeGreaterThan(target.passwordChangedAt!.getTime());
    expect(await t.prisma.session.count({ where: { accountId: target.id, revokedAt: null } })).toBe(0);
    expect(await t.prisma.session.count({ where: { accountId: target.id } })).toBe(1);
    expect(await t.prisma.resetToken.count({ where: { accountId: target.id, revokedAt: null } })).toBe(0);
    expect(await account(rows[1].username)).toEqual(bystander);

    const audits = await t.prisma.auditEntry.findMany({ where: { action: 'account.import.credentials' } });
    expect(audits).toHaveLength(1);
    expect(audits[0].actor).toBe('operator:admin2');
    expect(audits[0].details).toMatchObject({ accountId: target.id, username: rows[0].username, fields: ['passwordHash', 'email'] });
    const details = JSON.stringify(audits[0].details);
    expect(details).not.toContain('lena.new@example.org');
    expect(details).not.toContain(secondHash);
    expect(await canSignIn(rows[0].username, BREACHED)).toBe(false);
    expect(await canSignIn(rows[0].username, SECOND)).toBe(true);
  });

  it('accepts the plain password column only with allowPlaintext, and never in production', async () => {
    const header = 'username,email,displayName,orgUnit,locale,emailVerified,password';
    const body = csvText(['plain.demo,plain.demo@example.org,Demo,ops,en,true,demo password for plain rows'], header);
    const refused = await upload(admin, body);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe('line 1: plain passwords are accepted only with --allow-plaintext on a non-production instance');
    expect(await t.prisma.account.count({ where: { username: 'plain.demo' } })).toBe(0);

    const config = t.config as { env: string };
    config.env = 'production';
    try {
      const production = await upload(admin, body, '?allowPlaintext=true');
      expect(production.status).toBe(400);
      expect(production.body.message).toBe('--allow-plaintext is refused on a production instance: import password hashes');
    } finally {
      config.env = 'test';
    }
    expect(await t.prisma.account.count({ where: { username: 'plain.demo' } })).toBe(0);

    expect((await upload(admin, body, '?allowPlaintext=true')).body).toMatchObject({ created: 1 });
    expect(await canSignIn('plain.demo', 'demo password for plain rows')).toBe(true);
  });

  it('rejects imported hashes that cost more than the caps, each with its line and reason', async () => {
    const salt = 'c29tZXNhbHRzb21lc2FsdA';
    const digest = 'RdescudvJCsgt3ub+b+dWRWJTmaaJObGRdescudvJCs';
    const rows = [
      accountRow(1010, { passwordHash: `$2b$15$${'a'.repeat(53)}` }),
      accountRow(1011, { passwordHash: `$argon2id$v=19$m=262145,t=2,p=1$${salt}$${digest}` }),
      accountRow(1012, { passwordHash: `$argon2id$v=19$m=65536,t=11,p=1$${salt}$${digest}` }),
      accountRow(1013, { passwordHash: `$argon2id$v=19$m=65536,t=3,p=9$${salt}$${digest}` }),
      accountRow(1014, { passwordHash: `$2b$14$${'a'.repeat(53)}` }),
      accountRow(1015, { passwordHash: `$argon2id$v=19$m=262144,t=10,p=8$${salt}$${digest}` }),
    ];
    const reply = await upload(responder, csvText(rows));
    expect(reply.body).toMatchObject({
      created: 2,
      rejected: 4,
      rejections: [
        { line: 2, reason: 'bcrypt cost 15 is above the cap of 14' },
        { line: 3, reason: 'argon2 memory cost m=262145 KiB is above the cap of 262144 KiB (256 MiB)' },
        { line: 4, reason: 'argon2 time cost t=11 is above the cap of 10' },
        { line: 5, reason: 'argon2 parallelism p=9 is above the cap of 8' },
      ],
    });
    expect(await t.prisma.account.count({ where: { username: { in: rows.map((r) => r.username) } } })).toBe(2);
  });

  it('verifies bcrypt $2a$/$2b$/$2y$ hashes in worker threads, never on the event loop', async () => {
    const hasher = t.get(PasswordHasherService);
    const hash = bcrypt.hashSync('bcrypt variants password', 5);
    const onMainThread = [vi.spyOn(bcrypt, 'compare'), vi.spyOn(bcrypt, 'compareSync')];
    for (const variant of ['$2a$', '$2b$', '$2y$']) {
      expect(await hasher.verify(variant + hash.slice(4), 'bcrypt variants password')).toBe(true);
      expect(await hasher.verify(variant + hash.slice(4), 'bcrypt variants passwork')).toBe(false);
    }
    for (const spy of onMainThread) expect(spy).not.toHaveBeenCalled();
  });
});
