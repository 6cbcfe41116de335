import 'reflect-metadata';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/app-config.js';
import { dropDatabase, ensureDatabase, applyMigrations } from '../src/prisma/migrations.js';
import { PROJECT_ROOT } from '../src/config/project-root.js';
import { BENCH_ROWS, type BenchContext } from './rows.js';
import { closeBenchResources } from './rows/env.js';
import type { BenchRow } from './support.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    rows: { type: 'string' },
    /** How long the throttle row sends at R=200/s; 20 is enough for a quick look. */
    'throttle-seconds': { type: 'string', default: '60' },
    'database-url': { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/reset_orchestrator_bench' },
  },
});

async function main(): Promise<void> {
  const accounts = Number(values.accounts);
  if (!Number.isInteger(accounts) || accounts < 1000) throw new Error('--accounts must be a whole number of at least 1000');
  const wanted = values.rows?.split(',').map((r) => r.trim());
  const databaseUrl = values['database-url']!;
  await dropDatabase(databaseUrl);
  await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', QUEUE_PREFIX: `bench-${process.pid}`, NODE_ENV: 'test' });
  const ctx: BenchContext = { accounts, config, databaseUrl, workDir: await mkdtempBench(), state: { throttleSeconds: Number(values['throttle-seconds']) } };

  const results: BenchRow[] = [];
  for (const row of BENCH_ROWS) {
    if (wanted && !wanted.includes(row.name)) continue;
    process.stderr.write(`bench: ${row.name}…\n`);
    try {
      results.push(...(await row.run(ctx)));
    } catch (err) {
      results.push({ row: row.name, metric: 'error', product: NaN, floor: NaN, ratio: NaN, unit: '', notes: (err as Error).message });
    }
  }

  await closeBenchResources(ctx);
  printTable(results);
  const machine = { cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  const dir = path.join(PROJECT_ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().slice(0, 10)}-${accounts}.json`);
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), accounts, machine, results }, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${path.relative(PROJECT_ROOT, file)}\n`);
  await dropDatabase(databaseUrl);
}

async function mkdtempBench(): Promise<string> {
  const dir = path.join(os.tmpdir(), `reset-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function printTable(rows: BenchRow[]): void {
  const header = ['row', 'metric', 'product', 'floor', 'ratio', 'unit', 'target', 'met', 'notes'];
  const lines = rows.map((r) => [r.row, r.metric, String(r.product), String(r.floor), String(r.ratio), r.unit, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO', r.notes ?? '']);
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|\n`);
  for (const line of lines) process.stdout.write(`| ${line.join(' | ')} |\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
