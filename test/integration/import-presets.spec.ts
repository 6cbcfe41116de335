import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Algorithm, hashRawSync, hashSync as argon2Hash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ImportSummary } from '../../src/accounts/accounts-import.service.js';
import { CampaignFlaggingService } from '../../src/campaigns/campaign-flagging.service.js';
import { registerAccountsCommands } from '../../src/cli/commands/accounts.commands.js';
import { Browser, createCampaign, csrfFrom, flagAccounts, resetTokenFrom } from '../support/auth-flow.js';
import { CSV_HEADER, accountRow, csvText, tempFile } from '../support/factories.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const NEW_PASSWORD = 'lantern orchard quietly hums forty two';

/** PBKDF2 as Keycloak stores it: base64 of the raw salt and of the 64-byte derived key. */
function keycloakPbkdf2(password: string, algorithm: 'pbkdf2-sha256' | 'pbkdf2-sha512', iterations: number) {
  const salt = randomBytes(16);
  const value = pbkdf2Sync(password, salt, iterations, 64, algorithm === 'pbkdf2-sha256' ? 'sha256' : 'sha512');
  return {
    type: 'password',
    secretData: JSON.stringify({ value: value.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({ hashIterations: iterations, algorithm, additionalParameters: {} }),
  };
}

function keycloakArgon2(password: string) {
  const salt = randomBytes(16);
  const value = hashRawSync(password, { algorithm: Algorithm.Argon2id, memoryCost: 7168, timeCost: 5, parallelism: 1, outputLen: 32, salt });
  return {
    type: 'password',
    secretData: JSON.stringify({ value: value.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({
      hashIterations: 5,
      algorithm: 'argon2',
      additionalParameters: { hashLength: ['32'], memory: ['7168'], type: ['id'], version: ['1.3'], parallelism: ['1'] },
    }),
  };
}

/** RFC 2307 {SSHA}/{SSHA512}: base64(digest(password || salt) || salt). */
function ssha(password: string, digest: 'sha1' | 'sha512'): string {
  const salt = randomBytes(8);
  const value = createHash(digest).update(password).update(salt).digest();
  return `{${digest === 'sha1' ? 'SSHA' : 'SSHA512'}}${Buffer.concat([value, salt]).toString('base64')}`;
}

/** OpenLDAP pw-pbkdf2: {PBKDF2-SHA256}iterations$salt$hash in adapted base64 ('.' for '+', no padding). */
function ldapPbkdf2(password: string, iterations: number): string {
  const salt = randomBytes(16);
  const ab64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');
  return `{PBKDF2-SHA256}${iterations}$${ab64(salt)}$${ab64(pbkdf2Sync(password, salt, iterations, 32, 'sha256'))}`;
}

describe('imports from identity provider exports', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;
  let campaignId: number;

  const upload = async (body: string, query: string, type = 'text/plain') => {
    const res = await fetch(`${t.baseUrl}/api/accounts/import?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${responder}`, 'content-type': type },
      body,
    });
    return { status: res.status, body: (await res.json()) as ImportSummary & { message?: string } };
  };
  const account = (username: string) => t.prisma.account.findUniqueOrThrow({ where: { username } });

  /** The product's own sign-in with the imported password, then the whole breach reset: link mail, new password. */
  async function signInAndReset(username: string, password: string, typed = username): Promise<void> {
    const first = await new Browser(t.baseUrl).login(typed, password);
    expect(first.status, `${username} signs in`).toBe(303);
    expect(first.location).toBe('/account');
    const { id, email } = await account(username);
    await flagAccounts(t, campaignId, [id]);
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(typed, password)).location).toBe('/pre-reset');
    const page = await browser.get('/pre-reset');
    expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) })).location).toBe('/pre-reset?sent=1');
    // The only mail so far, in the account's language (an imported de-DE locale gets it in German).
    await sink.waitFor(() => sink.to(email!).length === 1);
    const token = resetTokenFrom(sink.to(email!)[0]);
    const form = await browser.get(`/reset/${token}`);
    const done = await browser.post(`/reset/${token}`, { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, _csrf: csrfFrom(form.body) });
    expect(done.location, `${username} resets`).toBe('/login?notice=password-changed');
    expect((await account(username)).passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await new Browser(t.baseUrl).login(typed, password)).status).toBe(401);
    expect((await new Browser(t.baseUrl).login(typed, NEW_PASSWORD)).location).toBe('/account');
  }

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, PUBLIC_URL: 'http://reset.test' });
    responder = await t.operatorToken('responder');
    campaignId = (await createCampaign(t)).id;
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('Okta CSV: needs --email-verified, maps the columns, normalises locales, imports suspended users disabled', async () => {
    const okta = [
      'login,email,firstName,lastName,department,status,locale,created',
      'kem.garcí0@corp.example.com,kem.garcia@corp.example.com,Kem,García,Finance,ACTIVE,fr_FR,2021-03-04T10:00:00.000Z',
      'ann.suspended@corp.example.com,ann@corp.example.com,Ann,Lee,Sales,SUSPENDED,en_US,2020-01-01T00:00:00.000Z',
      'bo.gone@corp.example.com,bo@corp.example.com,Bo,Berg,Sales,DEPROVISIONED,sv_SE,2020-01-01T00:00:00.000Z',
      'cy.odd@corp.example.com,cy@corp.example.com,Cy,Odd,Sales,HIBERNATING,en,2020-01-01T00:00:00.000Z',
      'di.active@corp.example.com,di@gmail.com,Di,Ash,,PASSWORD_EXPIRED,de_DE,2020-01-01T00:00:00.000Z',
    ].join('\n');
    const silent = await upload(okta, 'from=okta', 'text/csv');
    expect(silent.status).toBe(400);
    expect(silent.body.message).toBe('an Okta export has no emailVerified field: say --email-verified all or none');

    const reply = await upload(okta, 'from=okta&emailVerified=none', 'text/csv');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      rows: 5,
      created: 4,
      rejected: 1,
      rejections: [{ line: 5, reason: 'unknown Okta status "HIBERNATING"' }],
      disabled: 2,
      cannotSignIn: 4,
      warnings: [
        { line: 3, reason: 'imported as disabled (Okta status SUSPENDED)' },
        { line: 4, reason: 'imported as disabled (Okta status DEPROVISIONED)' },
      ],
    });
    expect(await account('kem.garcí0@corp.example.com')).toMatchObject({
      displayName: 'Kem García',
      orgUnit: 'Finance',
      locale: 'fr-FR',
      email: 'kem.garcia@corp.example.com',
      emailVerified: false,
      disabled: false,
    });
    expect(await account('ann.suspended@corp.example.com')).toMatchObject({ disabled: true, locale: 'en-US' });
    expect(await account('di.active@corp.example.com')).toMatchObject({ disabled: false, orgUnit: null, locale: 'de-DE' });
  });

  it('never flags (so never notifies) disabled accounts', async () => {
    const campaign = await t.prisma.campaign.create({
      data: { name: 'All', incidentRef: 'INC-9', reason: 'Signs of copied passwords.', scope: 'all', noticeRate: 10, phrase: 'pale heron', status: 'running', createdBy: 'test' },
    });
    await t.get(CampaignFlaggingService).flagRemaining(campaign.id);
    const flagged = await t.prisma.campaignAccount.findMany({ where: { campaignId: campaign.id }, select: { account: { select: { username: true } } } });
    const names = flagged.map((f) => f.account.username);
    expect(names).toContain('kem.garcí0@corp.example.com');
    expect(names).not.toContain('ann.suspended@corp.example.com');
    expect(names).not.toContain('bo.gone@corp.example.com');
    expect((await account('ann.suspended@corp.example.com')).mustReset).toBe(false);
    await t.prisma.campaign.update({ where: { id: campaign.id }, data: { status: 'completed' } });
  });

  it('Auth0 NDJSON: user_id, email_verified, name and blocked', async () => {
    const lines = [
      { user_id: 'auth0|5f1', email: 'ivy@example.org', email_verified: true, name: 'Ivy Stone', blocked: false, created_at: '2021-01-01' },
      { user_id: 'auth0|5f2', email: 'jon@example.org', email_verified: false, name: 'Jon Blocked', blocked: true },
      { user_id: 'auth0|5f3', email: 'kit@example.org', name: 'Kit Unsure' },
    ].map((l) => JSON.stringify(l));
    const reply = await upload(`${lines.join('\n')}\n`, 'from=auth0', 'application/x-ndjson');
    expect(reply.body).toMatchObject({
      created: 2,
      disabled: 1,
      rejections: [{ line: 3, reason: 'emailVerified is missing; say --email-verified all or none' }],
      warnings: [{ line: 2, reason: 'imported as disabled (Auth0 blocked)' }],
    });
    expect(await account('ivy@example.org')).toMatchObject({ externalId: 'auth0|5f1', displayName: 'Ivy Stone', emailVerified: true, disabled: false });
    expect(await account('jon@example.org')).toMatchObject({ externalId: 'auth0|5f2', disabled: true });
  });

  it('Keycloak realm export: pbkdf2-sha256, pbkdf2-sha512 and argon2 credentials sign in, and the reset replaces them with argon2id', async () => {
    const realm = {
      realm: 'corp',
      groups: [{ name: 'staff', users: [{ username: 'not-a-user' }] }],
      users: [
        { id: 'kc-1', username: 'kc.sha256', email: 'kc.sha256@example.org', emailVerified: true, enabled: true, firstName: 'Kay', lastName: 'One',
          attributes: { locale: ['de_DE'], department: ['Ops'] }, credentials: [keycloakPbkdf2('keycloak sha256 secret', 'pbkdf2-sha256', 27500)] },
        { id: 'kc-2', username: 'kc.sha512', email: 'kc.sha512@example.org', emailVerified: true, enabled: true,
          credentials: [keycloakPbkdf2('keycloak sha512 secret', 'pbkdf2-sha512', 30000)] },
        { id: 'kc-3', username: 'kc.argon2', email: 'kc.argon2@example.org', emailVerified: true, enabled: true, credentials: [keycloakArgon2('keycloak argon2 secret')] },
        { id: 'kc-4', username: 'kc.off', email: 'kc.off@example.org', emailVerified: false, enabled: false },
        { id: 'kc-5', username: 'kc.costly', email: 'kc.costly@example.org', emailVerified: true, enabled: true,
          credentials: [{ ...keycloakPbkdf2('x', 'pbkdf2-sha256', 1), credentialData: JSON.stringify({ hashIterations: 2_000_000, algorithm: 'pbkdf2-sha256' }) }] },
      ],
      clients: [{ clientId: 'account', users: 'not this either' }],
    };
    const reply = await upload(JSON.stringify(realm, null, 2), 'from=keycloak', 'application/json');
    expect(reply.status, reply.body.message).toBe(200);
    expect(reply.body).toMatchObject({ rows: 5, created: 4, disabled: 1, cannotSignIn: 1, warnings: [{ reason: 'imported as disabled (Keycloak enabled: false)' }] });
    expect(reply.body.rejections).toEqual([{ line: expect.any(Number), reason: 'pbkdf2 iterations 2000000 are above the cap of 1000000' }]);
    expect(await t.prisma.account.count({ where: { username: { in: ['not-a-user', 'kc.costly'] } } })).toBe(0);
    expect(await account('kc.sha256')).toMatchObject({ displayName: 'Kay One', orgUnit: 'Ops', locale: 'de-DE', externalId: 'kc-1' });
    expect((await account('kc.sha256')).passwordHash).toMatch(/^\$pbkdf2-sha256\$i=27500\$/);

    await signInAndReset('kc.sha256', 'keycloak sha256 secret');
    await signInAndReset('kc.sha512', 'keycloak sha512 secret');
    await signInAndReset('kc.argon2', 'keycloak argon2 secret');
  });

  it('LDIF: {SSHA}, {SSHA512}, {CRYPT} bcrypt, {ARGON2} and {PBKDF2-SHA256} sign in, and the reset replaces them', async () => {
    const argon2 = argon2Hash('ldap argon2 secret', { algorithm: Algorithm.Argon2id, memoryCost: 8192, timeCost: 2, parallelism: 1 });
    const entry = (uid: string, extra: string[]) => [`dn: uid=${uid},ou=People,dc=corp,dc=example`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid} Person`, `mail: ${uid}@example.org`, ...extra];
    const encoded = Buffer.from(ssha('ldap ssha512 secret', 'sha512')).toString('base64');
    const ldif = [
      'version: 1',
      '',
      '# the container is no account',
      'dn: ou=People,dc=corp,dc=example',
      'objectClass: organizationalUnit',
      'ou: People',
      '',
      ...entry('ld.ssha', [`userPassword: ${ssha('ldap ssha secret', 'sha1')}`, 'preferredLanguage: fr_CA']),
      '',
      // A base64 value folded over two lines, as ldapsearch writes long values.
      ...entry('ld.ssha512', [`userPassword:: ${encoded.slice(0, 40)}`, ` ${encoded.slice(40)}`]),
      '',
      ...entry('ld.crypt', [`userPassword: {CRYPT}${bcrypt.hashSync('ldap crypt secret', 5)}`]),
      '',
      ...entry('ld.argon2', [`userPassword: {ARGON2}${argon2}`]),
      '',
      ...entry('ld.pbkdf2', [`userPassword: ${ldapPbkdf2('ldap pbkdf2 secret', 10000)}`]),
      '',
      ...entry('ld.locked', [`userPassword: ${ssha('locked secret', 'sha1')}`, 'nsAccountLock: TRUE']),
      '',
      ...entry('ld.md5', ['userPassword: {MD5}X03MO1qnZdYdgyfeuILPmQ==']),
      '',
    ].join('\n');
    expect((await upload(ldif, 'from=ldif', 'application/ldif')).body.message).toBe('LDIF has no emailVerified field: say --email-verified all or none');
    const reply = await upload(ldif, 'from=ldif&emailVerified=all', 'application/ldif');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      rows: 7,
      created: 6,
      disabled: 1,
      cannotSignIn: 0,
      rejections: [{ line: 53, reason: 'userPassword scheme {MD5} cannot be verified here' }],
      warnings: [{ line: 45, reason: 'imported as disabled (locked in the directory)' }],
    });
    expect(await account('ld.ssha')).toMatchObject({ orgUnit: 'People', locale: 'fr-CA', displayName: 'ld.ssha Person', emailVerified: true });
    expect((await account('ld.pbkdf2')).passwordHash).toMatch(/^\$pbkdf2-sha256\$i=10000\$/);

    await signInAndReset('ld.ssha', 'ldap ssha secret');
    await signInAndReset('ld.ssha512', 'ldap ssha512 secret');
    await signInAndReset('ld.crypt', 'ldap crypt secret');
    await signInAndReset('ld.argon2', 'ldap argon2 secret');
    await signInAndReset('ld.pbkdf2', 'ldap pbkdf2 secret');
  });

  it('any CSV with --map through resetctl, templates for the display name', async () => {
    const file = await tempFile(['id,login,mail,given,family,dept,shoeSize', '77,Mapped.One,mapped.one@example.org,Map,One,Legal,44', '78,,nobody@example.org,No,Login,Legal,40'].join('\n'));
    const saved = { ...process.env };
    const savedExitCode = process.exitCode;
    Object.assign(process.env, { DATABASE_URL: t.config.database.url });
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const program = new Command().exitOverride();
      registerAccountsCommands(program);
      const map = "username=login,email=mail,displayName='{given} {family}',orgUnit=dept,externalId=id";
      await program.parseAsync(['accounts', 'import', file, '--from', 'csv', '--map', map, '--email-verified', 'all'], { from: 'user' });
    } finally {
      write.mockRestore();
      warn.mockRestore();
      process.env = saved;
      process.exitCode = savedExitCode;
    }
    expect(JSON.parse(printed.join(''))).toMatchObject({ created: 1, rejected: 1, rejections: [{ line: 3, reason: 'username is empty' }], cannotSignIn: 1 });
    expect(await account('mapped.one')).toMatchObject({ displayName: 'Map One', orgUnit: 'Legal', externalId: '77', emailVerified: true });
    const missing = await upload('login,mail\nx,x@example.org\n', `map=${encodeURIComponent('username=login,email=email')}&emailVerified=all`, 'text/csv');
    expect(missing.body.message).toBe('line 1: the map refers to column email, not in the header');
  });
});

describe('internationalised usernames', () => {
  let t: TestApp;
  let responder: string;
  const hash = bcrypt.hashSync('unicode user secret 1', 4);

  const upload = async (body: string) => {
    const res = await fetch(`${t.baseUrl}/api/accounts/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${responder}`, 'content-type': 'text/csv' },
      body,
    });
    return (await res.json()) as ImportSummary;
  };

  beforeAll(async () => {
    t = await createTestApp();
    responder = await t.operatorToken('responder');
  });
  afterAll(() => t.close());

  it('accepts non-ASCII letters, stores one canonical form, and signs in whatever form the name is typed in', async () => {
    const summary = await upload(
      csvText([
        accountRow(1, { username: 'Kem.Garci\u0301a0', email: 'kem.garcía@exämple.org', passwordHash: hash }),
        accountRow(2, { username: 'Straße', passwordHash: hash }),
        accountRow(3, { username: 'ＷＩＤＥ', passwordHash: hash }),
        accountRow(4, { username: 'kem.garcía0', passwordHash: hash }),
      ]),
    );
    expect(summary).toMatchObject({ created: 3, rejected: 1, rejections: [{ line: 5, reason: 'username "kem.garcía0" already appears on line 2' }] });
    const stored = await t.prisma.account.findMany({ where: { username: { in: ['kem.garcía0', 'strasse', 'wide'] } }, orderBy: { username: 'asc' } });
    expect(stored.map((a) => a.username)).toEqual(['kem.garcía0', 'strasse', 'wide']);
    expect(stored[0].email).toBe('kem.garcía@exämple.org');

    for (const typed of ['kem.garcía0', 'kem.garci\u0301a0', 'KEM.GARCÍA0', 'Kem.Garci\u0301a0']) {
      expect((await new Browser(t.baseUrl).login(typed, 'unicode user secret 1')).location, typed).toBe('/account');
    }
    for (const typed of ['STRASSE', 'strasse', 'STRAßE', 'wide', 'ＷＩＤＥ']) {
      expect((await new Browser(t.baseUrl).login(typed, 'unicode user secret 1')).location, typed).toBe('/account');
    }
  });

  it('reports usernames that look like another one across scripts', async () => {
    await upload(csvText([accountRow(10, { username: 'olga', passwordHash: hash })]));
    const summary = await upload(
      csvText([accountRow(11, { username: 'paul', passwordHash: hash }), accountRow(12, { username: 'раul', passwordHash: hash }), accountRow(13, { username: 'оlga', passwordHash: hash })]),
    );
    expect(summary).toMatchObject({ created: 3, rejected: 0 });
    expect(summary.warnings).toEqual([
      { line: 3, reason: 'username "раul" looks like "paul" (line 2)' },
      { line: 4, reason: 'username "оlga" looks like "olga" (an existing account)' },
    ]);
  });

  it('counts accounts that cannot reach the pre-reset page, and lists every rejected line or writes them all to a file', async () => {
    const rows = [...Array.from({ length: 3 }, (_, i) => accountRow(100 + i)), ...Array.from({ length: 1005 }, (_, i) => accountRow(200 + i, { locale: 'klingon-x' }))];
    const summary = await upload(csvText(rows, CSV_HEADER));
    expect(summary).toMatchObject({ created: 3, cannotSignIn: 3, rejected: 1005, rejectionsNotListed: 5 });
    expect(summary.rejections).toHaveLength(1000);
    const listed = (await readFile(summary.rejectionsFile!, 'utf8')).trim().split('\r\n');
    expect(listed).toHaveLength(1006);
    expect(listed[0]).toBe('line,reason');
    expect(listed[1005]).toBe('1009,locale must look like en or de-DE');
  });
});
