import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { hash, verify } from '@node-rs/argon2';
import type { AppConfig } from '../src/config/app-config.js';
import { ARGON2_OPTIONS } from '../src/passwords/password-hasher.service.js';
import { PROJECT_ROOT } from '../src/config/project-root.js';
import { type BenchRow, percentile, rateRow, runConcurrently, runMeasured, timeRow, timed } from './support.js';
import { enqueueRow, launchRow, linkLatencyRow, noticeThroughputRow, throttleRow } from './rows/campaign.js';
import { gateRow, webhookRow } from './rows/gate.js';
import { directoryRows } from './rows/directory.js';
import { scaleOutRow } from './rows/scale-out.js';
import { dashboardRow, loginRow, resetRow } from './rows/http.js';

export interface BenchContext {
  accounts: number;
  config: AppConfig;
  databaseUrl: string;
  workDir: string;
  /** Values one row leaves for the next (e.g. the imported file). */
  state: Record<string, unknown>;
}

export interface BenchDefinition {
  name: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

const ARGON2_CONCURRENCY = 8;
const KNOWN = 'bench password 2024!';

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function writeAccountsCsv(file: string, count: number, passwordHash: string): Promise<void> {
  const out = createWriteStream(file);
  out.write('username,email,displayName,orgUnit,locale,emailVerified,passwordHash\n');
  const quotedHash = `"${passwordHash}"`;
  for (let i = 1; i <= count; i++) {
    const line = `bench${i},bench${i}@example.org,Bench User ${i},unit${i % 20},en,true,${quotedHash}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The floor of the import rows: server-side COPY of the CSV into a table with the same indexes as accounts. */
async function copyFloor(ctx: BenchContext, file: string): Promise<number> {
  return withClient(ctx.databaseUrl, async (c) => {
    await c.query(`CREATE TABLE bench_copy (LIKE accounts INCLUDING DEFAULTS INCLUDING INDEXES)`);
    const result = await timed(() =>
      c.query(`COPY bench_copy (username, email, display_name, org_unit, locale, email_verified, password_hash) FROM '${file}' WITH (FORMAT csv, HEADER true)`),
    );
    await c.query('DROP TABLE bench_copy');
    return result.ms;
  });
}

/** A Keycloak realm export of N users, each with a pbkdf2-sha256 credential in Keycloak's secretData/credentialData form. */
async function writeKeycloakRealm(file: string, count: number): Promise<void> {
  const salt = randomBytes(16);
  const secretData = JSON.stringify({ value: pbkdf2Sync(KNOWN, salt, 27500, 64, 'sha256').toString('base64'), salt: salt.toString('base64'), additionalParameters: {} });
  const credentialData = JSON.stringify({ hashIterations: 27500, algorithm: 'pbkdf2-sha256', additionalParameters: {} });
  const out = createWriteStream(file);
  out.write('{"realm":"bench","enabled":true,"users":[\n');
  for (let i = 1; i <= count; i++) {
    const user = {
      id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      username: `kc${i}`,
      email: `kc${i}@example.org`,
      emailVerified: true,
      enabled: true,
      firstName: 'Bench',
      lastName: `User ${i}`,
      attributes: { department: [`unit${i % 20}`], locale: ['en'] },
      credentials: [{ id: `c${i}`, type: 'password', createdDate: 1700000000000, secretData, credentialData }],
      realmRoles: ['default-roles-bench'],
    };
    if (!out.write(`${i > 1 ? ',' : ''}${JSON.stringify(user)}\n`)) await once(out, 'drain');
  }
  out.end(']}\n');
  await once(out, 'finish');
}

const importRow: BenchDefinition = {
  name: 'import',
  async run(ctx) {
    const passwordHash = await hash(KNOWN, ARGON2_OPTIONS);
    const file = path.join(ctx.workDir, `accounts-${ctx.accounts}.csv`);
    await writeAccountsCsv(file, ctx.accounts, passwordHash);
    ctx.state.passwordHash = passwordHash;

    const floor = await copyFloor(ctx, file);

    const product = await runMeasured(
      process.execPath,
      ['--max-old-space-size=256', path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js'), 'accounts', 'import', file],
      { ...process.env, DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.config.redis.url, LOG_LEVEL: 'warn' },
    );
    const summary = JSON.parse(product.stdout) as { created: number };
    if (summary.created !== ctx.accounts) throw new Error(`import created ${summary.created} of ${ctx.accounts}`);

    // The same command on a one-row file (already imported, so nothing changes): what the wall time spends
    // starting the CLI rather than importing.
    const oneRow = path.join(ctx.workDir, 'accounts-1.csv');
    await writeAccountsCsv(oneRow, 1, passwordHash);
    const startup = await runMeasured(
      process.execPath,
      ['--max-old-space-size=256', path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js'), 'accounts', 'import', oneRow],
      { ...process.env, DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.config.redis.url, LOG_LEVEL: 'warn' },
    );

    // The same N users as a Keycloak realm export, imported next to the N accounts above, against the same floor.
    const realm = path.join(ctx.workDir, `keycloak-${ctx.accounts}.json`);
    await writeKeycloakRealm(realm, ctx.accounts);
    const keycloak = await runMeasured(
      process.execPath,
      ['--max-old-space-size=256', path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js'), 'accounts', 'import', realm, '--from', 'keycloak'],
      { ...process.env, DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.config.redis.url, LOG_LEVEL: 'warn' },
    );
    const keycloakSummary = JSON.parse(keycloak.stdout) as { created: number };
    // The other rows count on exactly N accounts.
    await withClient(ctx.databaseUrl, (c) => c.query(`DELETE FROM accounts WHERE username LIKE 'kc%'`));
    if (keycloakSummary.created !== ctx.accounts) throw new Error(`keycloak import created ${keycloakSummary.created} of ${ctx.accounts}`);
    return [
      timeRow('import', 'wall time', product.ms, floor, { maxRatio: 2, text: '≤ 2× COPY' }, 'floor: server-side COPY into a table with the same indexes'),
      { row: 'import', metric: 'peak RSS', product: Math.round(product.peakRssMb), floor: NaN, ratio: NaN, unit: 'MB', target: '< 300 MB', met: product.peakRssMb < 300 },
      {
        row: 'import',
        metric: 'CLI start-up',
        product: Math.round(startup.ms),
        floor: NaN,
        ratio: NaN,
        unit: 'ms',
        notes: `the same command on a 1-row file, peak RSS ${Math.round(startup.peakRssMb)} MB; included in the wall time above`,
      },
      timeRow('import --from keycloak', 'wall time', keycloak.ms, floor, { maxRatio: 3, text: '≤ 3× COPY' }, `a realm export of the same N users (pbkdf2-sha256 credentials), into a table holding the N accounts above; floor: the COPY above`),
      { row: 'import --from keycloak', metric: 'peak RSS', product: Math.round(keycloak.peakRssMb), floor: NaN, ratio: NaN, unit: 'MB', target: '< 300 MB', met: keycloak.peakRssMb < 300 },
    ];
  },
};

const argon2Rows: BenchDefinition = {
  name: 'argon2',
  async run() {
    const count = 200;
    const hashed = await hash(KNOWN, ARGON2_OPTIONS);
    const hashes = await runConcurrently(count, ARGON2_CONCURRENCY, async () => {
      await hash(KNOWN, ARGON2_OPTIONS);
    });
    const verifies = await runConcurrently(count, ARGON2_CONCURRENCY, async () => {
      await verify(hashed, KNOWN);
    });
    return [
      {
        row: 'argon2 floor',
        metric: `hash/s, verify p50/p99 (c=${ARGON2_CONCURRENCY})`,
        product: Math.round((count / hashes.ms) * 1000),
        floor: NaN,
        ratio: NaN,
        unit: '/s',
        notes: `verify p50 ${percentile(verifies.latencies, 50).toFixed(1)} ms, p99 ${percentile(verifies.latencies, 99).toFixed(1)} ms, ${Math.round((count / verifies.ms) * 1000)}/s`,
      },
    ];
  },
};

/** Rows in the order they run; later rows may use what earlier ones left in ctx.state. */
export const BENCH_ROWS: BenchDefinition[] = [
  importRow,
  argon2Rows,
  // One product instance (bench/rows/env.ts) and one campaign over all N accounts serve the rows below, in this order.
  launchRow,
  enqueueRow,
  noticeThroughputRow,
  // Its own database, workers and sink: it does not use the campaign above.
  scaleOutRow,
  linkLatencyRow,
  throttleRow,
  loginRow,
  dashboardRow,
  resetRow,
  gateRow,
  webhookRow,
  directoryRows,
];

export { rateRow };
