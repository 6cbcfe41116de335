import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSecretsCommands } from '../../src/cli/commands/secrets.commands.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { KNOWN_PASSWORD } from '../support/factories.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('admin-assisted temporary passwords', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;
  let knownHash: string;
  let accounts = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, SECRET_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    responder = await t.operatorToken('responder');
    knownHash = await t.get(PasswordHasherService).hash(KNOWN_PASSWORD);
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  async function account(overrides: { policyPreset?: 'nist' | 'racf'; emailVerified?: boolean } = {}) {
    accounts += 1;
    const username = `tmpuser${accounts}`;
    return t.prisma.account.create({
      data: { username, email: `${username}@example.org`, emailVerified: true, passwordHash: knownHash, passwordChangedAt: new Date(), ...overrides },
    });
  }

  async function issue(username: string, body: Record<string, unknown> = {}, token = responder) {
    const res = await fetch(`${t.baseUrl}/api/accounts/${username}/temporary-password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { res, text, json: res.ok ? (JSON.parse(text) as { secretId: number; url: string; expiresAt: string; code?: string; apply?: { secretId: number; url: string }; email?: { sent: boolean } }) : undefined };
  }

  const local = (url: string) => `${t.baseUrl}${new URL(url).pathname}`;
  const json = { accept: 'application/json' };

  async function interstitial(url: string) {
    const res = await fetch(local(url), { headers: json });
    return { res, body: (await res.json()) as { status: string; csrf: string; codeRequired: boolean; attemptsLeft?: number } };
  }

  async function reveal(url: string, form: Record<string, string> = {}, asJson = true) {
    const res = await fetch(`${local(url)}/reveal`, {
      method: 'POST',
      headers: asJson ? { ...json, 'content-type': 'application/json' } : { 'content-type': 'application/x-www-form-urlencoded' },
      body: asJson ? JSON.stringify(form) : new URLSearchParams(form).toString(),
    });
    return { res, text: await res.text() };
  }

  async function revealValue(url: string, code?: string): Promise<string> {
    const { body } = await interstitial(url);
    const { res, text } = await reveal(url, { csrf: body.csrf, ...(code ? { code } : {}) });
    expect(res.status).toBe(200);
    return (JSON.parse(text) as { password: string }).password;
  }

  const secretRow = (id: number) => t.prisma.oneTimeSecret.findUniqueOrThrow({ where: { id } });
  const audits = (action: string) => t.prisma.auditEntry.findMany({ where: { action }, orderBy: { id: 'asc' } });

  it('sets an expired, generated password, revokes sessions and returns only a link', async () => {
    const a = await account();
    await t.prisma.session.create({ data: { idHash: randomBytes(16).toString('hex'), accountId: a.id, kind: 'full', csrfToken: 'x', expiresAt: new Date(Date.now() + 3600_000) } });
    await t.prisma.resetToken.create({ data: { tokenHash: randomBytes(32).toString('hex'), accountId: a.id, expiresAt: new Date(Date.now() + 1800_000) } });
    const { res, text, json: issued } = await issue(a.username.toUpperCase(), { reason: 'INC-42' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(issued!.url).toMatch(/\/secret\/[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(issued!).sort()).toEqual(['expiresAt', 'secretId', 'url']);

    const value = await revealValue(issued!.url);
    expect(text).not.toContain(value);
    expect(value.length).toBeGreaterThanOrEqual(16);

    const after = await t.prisma.account.findUniqueOrThrow({ where: { id: a.id } });
    expect(after.passwordExpired).toBe(true);
    expect(await t.get(PasswordHasherService).verify(after.passwordHash!, value)).toBe(true);
    expect(after.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await t.prisma.passwordHistory.count({ where: { accountId: a.id, passwordHash: knownHash } })).toBe(1);
    expect(await t.prisma.session.count({ where: { accountId: a.id, revokedAt: null } })).toBe(0);
    expect(await t.prisma.resetToken.count({ where: { accountId: a.id, revokedAt: null } })).toBe(0);
    const [entry] = (await audits('secret.issued')).filter((e) => (e.details as { secretId: number }).secretId === issued!.secretId);
    expect(entry.actor).toMatch(/^operator:responder/);
    expect(JSON.stringify(entry.details)).not.toContain(value);
  });

  it('gives a racf account a value the RACF phrase rules accept', async () => {
    const a = await account({ policyPreset: 'racf' });
    const value = await revealValue((await issue(a.username)).json!.url);
    expect(value.length).toBeGreaterThanOrEqual(14);
    expect(value).not.toMatch(/(.)\1\1/);
    expect((value.match(/[A-Za-z]/g) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  it('GET shows an interstitial and never reveals or uses the link up', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    const pages: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(local(issued!.url));
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      pages.push(await res.text());
    }
    expect(pages[0]).toContain('can be shown only once');
    expect(pages[0]).toMatch(/<form[^>]+method="post"[^>]+action="\/secret\/[A-Za-z0-9_-]{43}\/reveal"/);
    const row = await secretRow(issued!.secretId);
    expect(row.viewedAt).toBeNull();
    expect(row.ciphertext).not.toBeNull();

    const value = await revealValue(issued!.url);
    for (const page of pages) expect(page).not.toContain(value);
  });

  it('refuses a reveal without the page’s CSRF value and leaves the secret intact', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    expect((await reveal(issued!.url, {}, false)).res.status).toBe(403);
    expect((await fetch(`${local(issued!.url)}/reveal`, { method: 'POST' })).status).toBe(403);
    expect((await reveal(issued!.url, { csrf: 'forged' })).res.status).toBe(403);
    const other = (await issue((await account()).username)).json!;
    const otherCsrf = (await interstitial(other.url)).body.csrf;
    expect((await reveal(issued!.url, { csrf: otherCsrf })).res.status).toBe(403);
    expect((await secretRow(issued!.secretId)).ciphertext).not.toBeNull();

    const { body } = await interstitial(issued!.url);
    const html = await reveal(issued!.url, { csrf: body.csrf }, false);
    expect(html.res.status).toBe(200);
    expect(html.res.headers.get('cache-control')).toBe('no-store');
    expect(html.text).toContain('first sign-in');
  });

  it('reveals exactly once under 20 concurrent reveals and destroys the ciphertext', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    const { body } = await interstitial(issued!.url);
    const results = await Promise.all(Array.from({ length: 20 }, () => reveal(issued!.url, { csrf: body.csrf })));
    const winners = results.filter((r) => r.res.status === 200);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.res.status === 410)).toHaveLength(19);
    const value = (JSON.parse(winners[0].text) as { password: string }).password;
    for (const loser of results.filter((r) => r.res.status !== 200)) expect(loser.text).not.toContain(value);

    const row = await secretRow(issued!.secretId);
    expect(row.ciphertext).toBeNull();
    expect(row.iv).toBeNull();
    expect(row.authTag).toBeNull();
    expect(row.viewedAt).not.toBeNull();
    const revealed = (await audits('secret.revealed')).filter((e) => (e.details as { secretId: number }).secretId === issued!.secretId);
    expect(revealed).toHaveLength(1);
  });

  it('answers a second visit with when it was viewed, and alerts the issuer in the audit log', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    await revealValue(issued!.url);
    const viewedAt = (await secretRow(issued!.secretId)).viewedAt!;

    const page = await fetch(local(issued!.url));
    expect(page.status).toBe(410);
    const html = await page.text();
    expect(html).toContain('already viewed');
    expect(html).toContain(viewedAt.toISOString());
    expect(html).toContain('contact the security team');

    const row = await secretRow(issued!.secretId);
    expect(row.revisitedAt).not.toBeNull();
    const alert = (await audits('secret.revisited')).find((e) => (e.details as { secretId: number }).secretId === issued!.secretId);
    expect(alert?.details).toMatchObject({ createdBy: expect.stringMatching(/^operator:responder/), username: a.username });

    const status = await fetch(`${t.baseUrl}/api/secrets/${issued!.secretId}`, { headers: { authorization: `Bearer ${responder}` } });
    expect(await status.json()).toMatchObject({ status: 'viewed', viewedAt: viewedAt.toISOString(), revisitedAt: row.revisitedAt!.toISOString() });
  });

  it('treats expired and malformed links like unknown ones', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    const { body } = await interstitial(issued!.url);
    await t.prisma.oneTimeSecret.update({ where: { id: issued!.secretId }, data: { expiresAt: new Date(Date.now() - 1000) } });

    const unknown = await fetch(`${t.baseUrl}/secret/${randomBytes(32).toString('base64url')}`);
    const expired = await fetch(local(issued!.url));
    const malformed = await fetch(`${t.baseUrl}/secret/not-a-token`);
    const texts = await Promise.all([unknown, expired, malformed].map((r) => r.text()));
    expect([unknown.status, expired.status, malformed.status]).toEqual([404, 404, 404]);
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    expect((await reveal(issued!.url, { csrf: body.csrf })).res.status).toBe(404);
    expect((await secretRow(issued!.secretId)).viewedAt).toBeNull();

    await issue((await account()).username);
    expect((await secretRow(issued!.secretId)).ciphertext).toBeNull();
  });

  it('refuses to show a tampered ciphertext and keeps the row', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username);
    const { body } = await interstitial(issued!.url);
    const row = await secretRow(issued!.secretId);
    const tampered = new Uint8Array(row.ciphertext!);
    tampered[0] ^= 1;
    await t.prisma.oneTimeSecret.update({ where: { id: row.id }, data: { ciphertext: tampered } });
    const r = await reveal(issued!.url, { csrf: body.csrf });
    expect(r.res.status).toBe(500);
    expect((await secretRow(row.id)).viewedAt).toBeNull();
  });

  it('limits wrong second-factor codes and then destroys the secret', async () => {
    const a = await account();
    const { text, json: issued } = await issue(a.username, { code: true, ttl: '30m' });
    expect(issued!.code).toMatch(/^\d{6}$/);
    expect(new Date(issued!.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    expect((await secretRow(issued!.secretId)).codeHash).not.toContain(issued!.code);
    const { body } = await interstitial(issued!.url);
    expect(body.codeRequired).toBe(true);

    const wrong = issued!.code === '000000' ? '111111' : '000000';
    const left: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await reveal(issued!.url, { csrf: body.csrf, code: wrong });
      expect(r.res.status).toBe(403);
      left.push((JSON.parse(r.text) as { attemptsLeft: number }).attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1]);
    expect((await reveal(issued!.url, { csrf: body.csrf, code: wrong })).res.status).toBe(410);
    const final = await reveal(issued!.url, { csrf: body.csrf, code: issued!.code! });
    expect(final.res.status).toBe(410);
    expect(text).not.toContain('"password"');

    const row = await secretRow(issued!.secretId);
    expect(row).toMatchObject({ codeAttempts: 5, ciphertext: null, iv: null, authTag: null, viewedAt: null });
    const mine = (e: { details: unknown }) => (e.details as { secretId: number }).secretId === issued!.secretId;
    expect((await audits('secret.code-failed')).filter(mine)).toHaveLength(5);
    expect((await audits('secret.destroyed')).filter(mine)).toHaveLength(1);
  });

  it('reveals with the right code', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username, { code: true });
    const value = await revealValue(issued!.url, issued!.code);
    const after = await t.prisma.account.findUniqueOrThrow({ where: { id: a.id } });
    expect(await t.get(PasswordHasherService).verify(after.passwordHash!, value)).toBe(true);
  });

  it('--external keeps no hash anywhere and shows the responder only the delivery status', async () => {
    const bystander = await account();
    const hashesBefore = await t.prisma.account.findMany({ select: { id: true, passwordHash: true, passwordExpired: true }, orderBy: { id: 'asc' } });
    const historyBefore = await t.prisma.passwordHistory.count();
    const { res, text, json: issued } = await issue(bystander.username, { external: 'MVSPROD:JDOE01' });
    expect(res.status).toBe(201);
    expect(issued!.apply?.url).toMatch(/\/secret\//);

    const statusUrl = `${t.baseUrl}/api/secrets/${issued!.secretId}`;
    const auth = { authorization: `Bearer ${responder}` };
    expect(await (await fetch(statusUrl, { headers: auth })).json()).toMatchObject({ status: 'pending', externalRef: 'MVSPROD:JDOE01' });

    const forAdmin = await revealValue(issued!.apply!.url);
    const forUser = await revealValue(issued!.url);
    expect(forUser).toBe(forAdmin);
    expect(forUser).toMatch(/^[A-Z][A-Z0-9]{7}$/);
    expect(text).not.toContain(forUser);

    const statusText = await (await fetch(statusUrl, { headers: auth })).text();
    expect(JSON.parse(statusText)).toMatchObject({ status: 'viewed' });
    expect(statusText).not.toContain(forUser);
    expect(await t.prisma.account.findMany({ select: { id: true, passwordHash: true, passwordExpired: true }, orderBy: { id: 'asc' } })).toEqual(hashesBefore);
    expect(await t.prisma.passwordHistory.count()).toBe(historyBefore);
    const hasher = t.get(PasswordHasherService);
    for (const row of await t.prisma.account.findMany()) expect(await hasher.verify(row.passwordHash!, forUser)).toBe(false);
    const rows = await t.prisma.oneTimeSecret.findMany({ where: { externalRef: 'MVSPROD:JDOE01' } });
    expect(rows.map((r) => r.accountId)).toEqual([null, null]);

    const phrase = await revealValue((await issue('jdoe', { external: 'MVSPROD:JDOE01', format: 'phrase' })).json!.url);
    expect(phrase.length).toBeGreaterThanOrEqual(14);
  });

  it('--email sends the link, never the password, to the verified address', async () => {
    const a = await account();
    const { json: issued } = await issue(a.username, { email: true });
    expect(issued!.email).toEqual({ sent: true });
    await sink.waitFor(() => sink.to(a.email!).length > 0);
    const [mail] = sink.to(a.email!);
    expect(mail.parsed.text).toContain(issued!.url);
    const value = await revealValue(issued!.url);
    expect(mail.raw).not.toContain(value);
    expect(mail.parsed.html || '').not.toContain(value);

    const unverified = await account({ emailVerified: false });
    const refused = await issue(unverified.username, { email: true });
    expect(refused.res.status).toBe(400);
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: unverified.id } })).passwordExpired).toBe(false);
  });

  it('needs a responder or admin, and validates input', async () => {
    const a = await account();
    const none = await fetch(`${t.baseUrl}/api/accounts/${a.username}/temporary-password`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect((await issue(a.username, {}, await t.operatorToken('manager'))).res.status).toBe(403);
    expect((await issue(a.username, {}, await t.operatorToken('admin'))).res.status).toBe(201);
    expect((await issue('nobody-here')).res.status).toBe(404);
    expect((await issue(a.username, { ttl: '10s' })).res.status).toBe(400);
    expect((await issue(a.username, { ttl: 'soon' })).res.status).toBe(400);
    expect((await issue(a.username, { password: 'chosen by me' })).res.status).toBe(400);
    expect((await issue(a.username, { external: 'no colon' })).res.status).toBe(400);
    expect((await fetch(`${t.baseUrl}/api/secrets/1`, { headers: { authorization: `Bearer ${await t.operatorToken('manager')}` } })).status).toBe(403);
  });

  it('destroys older unviewed links when a newer temporary password is issued', async () => {
    const a = await account();
    const first = (await issue(a.username)).json!;
    const second = (await issue(a.username)).json!;
    expect((await fetch(local(first.url))).status).toBe(410);
    expect((await secretRow(first.secretId)).ciphertext).toBeNull();
    const destroyed = (await audits('secret.destroyed')).map((e) => e.details as { secretIds?: number[]; why?: string });
    expect(destroyed).toContainEqual(expect.objectContaining({ secretIds: [first.secretId], why: expect.stringMatching(/superseded/) }));
    const value = await revealValue(second.url);
    const after = await t.prisma.account.findUniqueOrThrow({ where: { id: a.id } });
    expect(await t.get(PasswordHasherService).verify(after.passwordHash!, value)).toBe(true);
  });

  it('signing in with the temporary password leads to the forced change, and the new password then works', async () => {
    const a = await account();
    const value = await revealValue((await issue(a.username)).json!.url);
    const jar = new Map<string, string>();
    const send = async (path: string, init: { method?: string; body?: Record<string, string>; csrf?: string } = {}) => {
      const headers: Record<string, string> = { ...json, cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      if (init.body) headers['content-type'] = 'application/json';
      if (init.csrf) headers['x-csrf-token'] = init.csrf;
      const res = await fetch(`${t.baseUrl}${path}`, { method: init.method ?? 'GET', headers, body: init.body && JSON.stringify(init.body), redirect: 'manual' });
      for (const cookie of res.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const [name, ...rest] = pair.split('=');
        jar.set(name, rest.join('='));
      }
      return { res, body: (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as Record<string, unknown>) : {} };
    };
    const signIn = async (password: string) => {
      const loginCsrf = (await send('/login')).body.csrfToken as string;
      return send('/login', { method: 'POST', body: { username: a.username, password, _csrf: loginCsrf } });
    };

    expect((await signIn(KNOWN_PASSWORD)).res.status).toBe(401);
    const first = await signIn(value);
    expect(first.res.status).toBe(200);
    expect(first.body).toMatchObject({ kind: 'password_change', redirect: '/password/change' });
    expect((await send('/account')).res.status).not.toBe(200);

    const form = await send('/password/change');
    expect(form.res.status).toBe(200);
    const newPassword = 'a brand new passphrase for tmp users';
    const changed = await send('/password/change', { method: 'POST', body: { newPassword, confirmPassword: newPassword }, csrf: form.body.csrfToken as string });
    expect(changed.res.status).toBe(200);
    expect(changed.body).toMatchObject({ changed: true });
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: a.id } })).passwordExpired).toBe(false);

    jar.clear();
    expect((await signIn(value)).res.status).toBe(401);
    const again = await signIn(newPassword);
    expect(again.res.status).toBe(200);
    expect(again.body).toMatchObject({ kind: 'full' });
  });

  it('resetctl accounts temp-password issues the same way and prints no password', async () => {
    const a = await account({ policyPreset: 'racf' });
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: t.config.database.url, SECRET_ENCRYPTION_KEY: t.config.secrets.encryptionKey!.toString('base64'), PUBLIC_URL: t.baseUrl });
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    try {
      const program = new Command().exitOverride();
      registerSecretsCommands(program.command('accounts'));
      await program.parseAsync(['accounts', 'temp-password', a.username, '--code', '--ttl', '2h', '--reason', 'INC-7'], { from: 'user' });
    } finally {
      write.mockRestore();
      process.env = saved;
    }
    const issued = JSON.parse(printed.join('')) as { secretId: number; url: string; code: string; expiresAt: string };
    expect(issued.code).toMatch(/^\d{6}$/);
    const value = await revealValue(issued.url, issued.code);
    expect(printed.join('')).not.toContain(value);
    expect((await t.prisma.account.findUniqueOrThrow({ where: { id: a.id } })).passwordExpired).toBe(true);
    const [entry] = (await audits('secret.issued')).filter((e) => (e.details as { secretId: number }).secretId === issued.secretId);
    expect(entry.actor).toMatch(/^cli:/);
  });
});
