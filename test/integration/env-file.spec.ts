import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/support.js';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const MAIN = path.join(PROJECT_ROOT, 'dist/src/main.js');
const RESETCTL = path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js');
const run = promisify(execFile);

/** The test runner's environment without anything the configuration file is meant to supply. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_URL|REDIS_URL|QUEUE_PREFIX|PORT|HOST|PUBLIC_URL|SECRET_|MAIL_|NODE_ENV|ROLE|LOG_LEVEL|RESET_ORCHESTRATOR_ENV)/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

describe('one configuration file for the service and resetctl', () => {
  let db: TestDatabase;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'ro-env-'));
    port = await freePort();
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('resetctl init writes it; the service boots from it and resetctl acts on the same database', async () => {
    await run(process.execPath, [RESETCTL, 'init', '--public-url', `http://127.0.0.1:${port}`, '--mail-from', 'Sec <sec@corp.example>',
      '--organisation', 'Corp', '--help-desk', '+1 555 0100'], { cwd: dir, env: bareEnv() });
    const written = await readFile(path.join(dir, '.env'), 'utf8');
    expect(written).toMatch(/^SECRET_ENCRYPTION_KEY=[A-Za-z0-9+/]{43}=$/m);
    expect(written).toContain('MAIL_FROM="Sec <sec@corp.example>"');
    expect(written).toContain('ORGANISATION_NAME="Corp"');
    expect(written).toContain('HELPDESK_CONTACT="+1 555 0100"');
    // NODE_ENV=production refuses to start without SECRET_ENCRYPTION_KEY: only the file supplies it here.
    await appendFile(path.join(dir, '.env'), `NODE_ENV=production\nDATABASE_URL=${db.url}\nQUEUE_PREFIX=env-${randomBytes(4).toString('hex')}\nHOST=127.0.0.1\nPORT=${port}\nLOG_LEVEL=warn\n`);

    await expect(run(process.execPath, [RESETCTL, 'init', '--public-url', 'http://x.example', '--mail-from', 'a', '--organisation', 'b', '--help-desk', 'c'], { cwd: dir, env: bareEnv() }))
      .rejects.toMatchObject({ stderr: expect.stringContaining('exists; --force replaces it') });

    const service = spawn(process.execPath, [MAIN], { cwd: dir, env: bareEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    service.stderr.on('data', (d) => (stderr += d));
    try {
      let status = 0;
      for (let i = 0; i < 300 && status !== 200 && service.exitCode === null; i++) {
        status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status, stderr).toBe(200);

      // From another directory, through RESET_ORCHESTRATOR_ENV.
      await run(process.execPath, [RESETCTL, 'operators', 'create', '--username', 'env-file-op', '--role', 'manager'], {
        cwd: tmpdir(),
        env: bareEnv({ RESET_ORCHESTRATOR_ENV: path.join(dir, '.env') }),
      });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query(`SELECT username, role FROM operators WHERE username = 'env-file-op'`);
      await client.end();
      expect(rows).toEqual([{ username: 'env-file-op', role: 'manager' }]);

      // The process environment wins over the file: a database URL that cannot work is tried, and refused.
      await expect(run(process.execPath, [RESETCTL, 'operators', 'list'], { cwd: dir, env: bareEnv({ DATABASE_URL: 'mysql://nowhere/x' }) }))
        .rejects.toMatchObject({ stderr: expect.stringContaining('DATABASE_URL: expected a postgresql:// URL') });
    } finally {
      service.kill('SIGTERM');
      await new Promise((r) => service.once('exit', r));
    }
  });

  it('refuses a RESET_ORCHESTRATOR_ENV that names no file, naming it', async () => {
    const missing = path.join(dir, 'nowhere.env');
    await expect(run(process.execPath, [RESETCTL, 'operators', 'list'], { cwd: dir, env: bareEnv({ RESET_ORCHESTRATOR_ENV: missing }) }))
      .rejects.toMatchObject({ stderr: `resetctl: RESET_ORCHESTRATOR_ENV names ${missing}, which does not exist (resetctl init writes one)\n` });
  });
});
