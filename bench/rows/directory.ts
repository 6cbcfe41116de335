import path from 'node:path';
import { Client } from 'ldapts';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { BASE_DN, SERVICE_DN, Slapd, directoryEnv, personDn } from '../../test/support/slapd.js';
import type { BenchDefinition } from '../rows.js';
import { type BenchRow, percentile, rateRow, runConcurrently, runMeasured, timeRow } from '../support.js';
import { ApiProcess } from './api-process.js';
import { loginCsrf, loginLoad } from './env.js';

const ENTRIES = 100_000;
const SIGN_IN_ACCOUNTS = 200;
const SIGN_IN_CONCURRENCY = 8;
const SIGN_INS = 1000;
const SIGN_IN_ROUNDS = 5;
const PASSWORD = 'bench directory password 2024!';
const uid = (i: number) => `dir${i}`;

/**
 * Debian's slapd with 100,000 inetOrgPerson entries (test/support/slapd.ts). Import: `resetctl accounts import
 * --from-directory` (a fresh process, CLI start included) against `ldapsearch` with the same paged search into a file.
 * Sign-in: POST /login of directory accounts against a separate ROLE=api process, at concurrency 8, against bare ldapts
 * binds (new connection, bind, unbind: what the product does per attempt) at the same concurrency.
 */
export const directoryRows: BenchDefinition = {
  name: 'directory',
  async run(ctx) {
    const people = Array.from({ length: ENTRIES }, (_, n) => {
      const i = n + 1;
      return { uid: uid(i), mail: `${uid(i)}@example.org`, cn: `Directory User ${i}`, ou: `unit${i % 20}`, password: i <= SIGN_IN_ACCOUNTS ? PASSWORD : undefined };
    });
    const slapd = await Slapd.create(people);
    try {
      const env = await directoryEnv(slapd);
      const productEnv = { ...process.env, ...env, DATABASE_URL: ctx.databaseUrl, REDIS_URL: ctx.config.redis.url, LOG_LEVEL: 'warn' };
      const attributes = ['uid', 'mail', 'cn', 'ou', 'preferredLanguage'];
      const ldapsearch = await runMeasured('sh', [
        '-c',
        `ldapsearch -LLL -x -H "$1" -D "$2" -w "$3" -b "$4" -E pr=1000/noprompt '(objectClass=inetOrgPerson)' ${attributes.join(' ')} > "$5"`,
        'ldapsearch',
        slapd.url,
        SERVICE_DN,
        slapd.servicePassword,
        BASE_DN,
        path.join(ctx.workDir, 'directory.ldif'),
      ], process.env);
      const product = await runMeasured(
        process.execPath,
        ['--max-old-space-size=256', path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js'), 'accounts', 'import', '--from-directory'],
        productEnv,
      );
      const summary = JSON.parse(product.stdout) as { created: number };
      if (summary.created !== ENTRIES) throw new Error(`the directory import created ${summary.created} of ${ENTRIES}`);

      const api = await ApiProcess.start({
        ...env,
        NODE_ENV: 'test',
        DATABASE_URL: ctx.databaseUrl,
        REDIS_URL: ctx.config.redis.url,
        QUEUE_PREFIX: ctx.config.redis.queuePrefix,
        LOGIN_FAILURES_PER_ACCOUNT: '1000000',
        LOGIN_FAILURES_PER_IP: '1000000',
      });
      const bind = async (i: number) => {
        const client = new Client({ url: slapd.url });
        await client.bind(personDn(uid((i % SIGN_IN_ACCOUNTS) + 1)), PASSWORD);
        await client.unbind();
      };
      // Alternating rounds, so a busy moment of the shared machine falls on both alike.
      const signIns = { count: 0, seconds: 0, latencies: [] as number[] };
      const floor = { count: 0, seconds: 0 };
      try {
        const csrf = await loginCsrf(api.baseUrl);
        const usernames = Array.from({ length: SIGN_IN_ACCOUNTS }, (_, i) => uid(i + 1));
        const load = (amount: number) => loginLoad(api.baseUrl, csrf, { usernames, password: PASSWORD, connections: SIGN_IN_CONCURRENCY, amount });
        await load(2 * SIGN_IN_CONCURRENCY);
        for (let round = 0; round < SIGN_IN_ROUNDS; round++) {
          const run = await load(SIGN_INS / SIGN_IN_ROUNDS);
          if (run.ok !== run.count) throw new Error(`directory sign-ins: ${run.count - run.ok} of ${run.count} were not 2xx`);
          signIns.count += run.count;
          signIns.seconds += run.count / run.perSecond;
          signIns.latencies.push(...run.latencies);
          const binds = await runConcurrently(SIGN_INS / SIGN_IN_ROUNDS, SIGN_IN_CONCURRENCY, bind);
          floor.count += SIGN_INS / SIGN_IN_ROUNDS;
          floor.seconds += binds.ms / 1000;
        }
      } finally {
        await api.stop();
      }
      const p50 = percentile(signIns.latencies.sort((a, b) => a - b), 50);
      const rows: BenchRow[] = [
        timeRow('directory', `import ${ENTRIES.toLocaleString('en')} entries`, product.ms, ldapsearch.ms, { maxRatio: 3, text: '≤ 3×' },
          `floor: ldapsearch, same paged search (1000 a page) into a file; product peak RSS ${Math.round(product.peakRssMb)} MiB, CLI start included`),
        rateRow('directory', 'sign-ins/s', signIns.count / signIns.seconds, floor.count / floor.seconds, '/s', { maxRatio: 1 / 0.7, text: '≥ 70% of bare binds' },
          `c=${SIGN_IN_CONCURRENCY}, ${signIns.count} POST /login in ${SIGN_IN_ROUNDS} rounds, p50 ${p50.toFixed(1)} ms; each answer is held to the dummy argon2 verify time; floor: new connection, bind, unbind`),
      ];
      return rows;
    } finally {
      await slapd.destroy();
    }
  },
};
