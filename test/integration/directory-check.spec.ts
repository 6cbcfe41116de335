import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import { DirectoryCheckService } from '../../src/directory/directory-check.service.js';
import { DirectoryService } from '../../src/directory/directory.service.js';
import { freePort } from '../../bench/support.js';
import { registerAccountsCommands } from '../../src/cli/commands/accounts.commands.js';
import { registerDirectoryCommands } from '../../src/cli/commands/directory.commands.js';
import { runCommands } from '../support/cli.js';
import { BASE_DN, SERVICE_DN, Slapd, directoryEnv, personDn } from '../support/slapd.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const resetctl = (program: Command) => {
  registerAccountsCommands(program);
  registerDirectoryCommands(program);
};

describe('resetctl directory check and accounts import --from-directory', () => {
  let slapd: Slapd;
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    slapd = await Slapd.create([
      { uid: 'erin', mail: 'erin@example.org', ou: 'Finance' },
      { uid: 'frank', ou: 'Sales' },
    ]);
    env = await directoryEnv(slapd);
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    await slapd?.destroy();
  });

  const check = (overrides: Record<string, string> = {}) =>
    new DirectoryCheckService(new DirectoryService(loadConfig({ ...env, ...overrides }))).check();

  it('says what works', async () => {
    expect(await check()).toEqual({
      ok: true,
      lines: [
        `ok   reached ${slapd.url} and bound as ${SERVICE_DN}`,
        `ok   DIRECTORY_BASE_DN ${BASE_DN} exists`,
        `ok   DIRECTORY_USER_FILTER (objectClass=inetOrgPerson) matches users, the first: ${personDn('erin')} (uid=erin)`,
      ],
    });
  });

  it('says in plain words what is wrong', async () => {
    const port = await freePort();
    expect((await check({ DIRECTORY_URL: `ldap://127.0.0.1:${port}` })).lines).toEqual([
      `FAIL cannot reach the directory at ldap://127.0.0.1:${port}: nothing listens there (is the server running, is the port right?)`,
    ]);
    const wrongPassword = await directoryEnv({ ...slapd, servicePassword: 'not the password' } as Slapd);
    expect((await check({ DIRECTORY_BIND_PASSWORD_FILE: wrongPassword.DIRECTORY_BIND_PASSWORD_FILE })).lines).toEqual([
      `FAIL the directory refused the bind as ${SERVICE_DN}: wrong DIRECTORY_BIND_DN or the password in DIRECTORY_BIND_PASSWORD_FILE`,
    ]);
    expect((await check({ DIRECTORY_BASE_DN: `ou=nowhere,${BASE_DN}` })).lines.at(-1)).toBe(
      `FAIL DIRECTORY_BASE_DN ou=nowhere,${BASE_DN} does not exist in the directory (or the service account may not see it)`,
    );
    expect((await check({ DIRECTORY_USER_FILTER: '(objectClass=posixAccount)' })).lines.at(-1)).toBe(
      `FAIL DIRECTORY_USER_FILTER (objectClass=posixAccount) matches nobody under ${BASE_DN} (or the service account may not read those entries)`,
    );
    expect((await check({ DIRECTORY_ATTR_USERNAME: 'employeeNumber' })).lines.at(-1)).toBe(
      `FAIL ${personDn('erin')} has no employeeNumber attribute: set DIRECTORY_ATTR_USERNAME to the attribute that holds user names`,
    );
  });

  it('runs both commands from resetctl', async () => {
    await expect(runCommands(resetctl, [['accounts', 'import', '--from-directory', '--filter', 'ou=Finance']], { DATABASE_URL: db.url, ...env })).rejects.toThrow(
      "--filter ou=Finance is not an LDAP filter like '(ou=Finance)'",
    );
    const { out: output, exitCode } = await runCommands(
      resetctl,
      [
        ['directory', 'check'],
        ['accounts', 'import', '--from-directory', '--filter', '(ou=Finance)'],
      ],
      { DATABASE_URL: db.url, ...env },
    );
    expect(output).toContain(`ok   reached ${slapd.url}`);
    expect(JSON.parse(output.slice(output.indexOf('{')))).toEqual({
      entries: 1,
      created: 1,
      changed: 0,
      unchanged: 0,
      gone: null,
      mailChanged: 0,
      rejected: 0,
      rejections: [],
    });
    expect(exitCode).toBeUndefined();
  });
});
