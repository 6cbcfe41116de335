import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { applyMigrations, dropDatabase, ensureDatabase } from '../../src/prisma/migrations.js';
import type { BenchDefinition } from '../rows.js';
import { type BenchRow, machineBusyMs, round } from '../support.js';
import { ApiProcess } from './api-process.js';
import { benchEnvVars, passwordHash } from './env.js';
import { SinkProcess, epochMs } from './sink.js';

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

interface Phase {
  rate: number;
  machineMsPerNotice: number;
  workersMsPerNotice: number;
}

/**
 * Two ROLE=worker processes against one on the same campaign, throttle off. It runs on a database and queue prefix of
 * its own (the in-process product of the other rows would otherwise send the campaign too), with its own sink. Both
 * workers start before the launch, so neither phase pays for a process's start-up: first both send M notices, then
 * one is stopped (SIGTERM) and the other sends M more. CPU per notice: the whole machine's (`/proc/stat`, with
 * PostgreSQL, Redis, the sink and whatever else runs on the host) and the worker processes' own.
 */
export const scaleOutRow: BenchDefinition = {
  name: 'scale-out',
  async run(ctx) {
    const url = new URL(ctx.databaseUrl);
    url.pathname = `${url.pathname}_scale`;
    const databaseUrl = url.toString();
    const accounts = Math.min(ctx.accounts, 60_000);
    const perPhase = Math.min(10_000, Math.floor(accounts / 3));
    await dropDatabase(databaseUrl);
    await ensureDatabase(databaseUrl);
    await applyMigrations(databaseUrl);
    const sql = new pg.Client({ connectionString: databaseUrl });
    await sql.connect();
    const sink = await SinkProcess.start();
    const workers: ApiProcess[] = [];
    try {
      await sql.query(
        `INSERT INTO accounts (username, email, display_name, org_unit, locale, email_verified, password_hash)
         SELECT 'bench' || i, 'bench' || i || '@example.org', 'Bench User ' || i, 'unit' || (i % 20), 'en', true, $2
         FROM generate_series(1, $1::int) AS i`,
        [accounts, await passwordHash(ctx)],
      );
      const env = { ...benchEnvVars(ctx, sink.url), DATABASE_URL: databaseUrl, QUEUE_PREFIX: `${ctx.config.redis.queuePrefix}-scale` };
      workers.push(...(await Promise.all([ApiProcess.start(env, 'worker'), ApiProcess.start(env, 'worker')])));
      const cli = (...args: string[]) =>
        promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/cli/resetctl.js'), ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
      const created = await cli('campaign', 'create', '--name', 'bench: scale-out', '--incident', 'INC-BENCH', '--reason', 'Bench.', '--all', '--rate', '10000');
      const id = /campaign (\d+) created/.exec(created.stdout)?.[1];
      if (!id) throw new Error(`campaign create said: ${created.stdout}`);
      await cli('campaign', 'launch', id, '--accept-gaps');
      for (const deadline = Date.now() + 120_000; ; await sleep(100)) {
        const { rows } = await sql.query<{ done: boolean }>('SELECT flagging_done_at IS NOT NULL AS done FROM campaigns WHERE id = $1', [id]);
        if (rows[0]?.done) break;
        if (Date.now() > deadline) throw new Error('flagging not done after 120 s');
      }

      const measure = async (running: ApiProcess[]): Promise<Phase> => {
        const from = sink.arrivals.length;
        const started = epochMs();
        const machine = await machineBusyMs();
        const cpu = await Promise.all(running.map((w) => w.cpuMs()));
        const last = await sink.waitFor((() => {
          let seen = 0;
          return (a) => a[2] === 'notice' && ++seen >= perPhase;
        })(), 180_000, from);
        if (!last) throw new Error(`${perPhase} notices did not arrive within 180 s`);
        const machineMs = (await machineBusyMs()) - machine;
        const workersMs = (await Promise.all(running.map((w) => w.cpuMs()))).reduce((sum, ms, i) => sum + ms - cpu[i], 0);
        return { rate: perPhase / ((last[0] - started) / 1000), machineMsPerNotice: machineMs / perPhase, workersMsPerNotice: workersMs / perPhase };
      };
      // The first notices of a fresh worker open its connections one at a time: not part of either phase.
      await sink.waitFor((a) => a[2] === 'notice', 60_000);
      await sleep(2000);
      const two = await measure(workers);
      await workers.pop()!.stop();
      await sleep(2000);
      const one = await measure(workers);
      const cores = os.cpus().length;
      const cpu = (p: Phase) =>
        `machine ${round(p.machineMsPerNotice, 2)} ms (${Math.round((p.rate * p.machineMsPerNotice) / (cores * 10))}% of its ${cores} cores busy), worker processes ${round(p.workersMsPerNotice, 2)} ms`;
      return [
        {
          row: 'scale-out',
          metric: `throughput, throttle off, 2 worker processes against 1 (${perPhase} notices each)`,
          product: round(two.rate),
          floor: round(one.rate),
          ratio: round(two.rate / one.rate, 2),
          unit: 'msg/s',
          notes:
            `ratio = gain from the second process; one campaign, ROLE=worker processes, each phase timed from its start to its ${perPhase}th arrival; ` +
            `CPU per notice with 2: ${cpu(two)}; with 1: ${cpu(one)}`,
        } satisfies BenchRow,
      ];
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await sink.stop();
      await sql.end();
      await dropDatabase(databaseUrl);
    }
  },
};
