import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

export interface BenchRow {
  row: string;
  metric: string;
  product: number;
  floor: number;
  /** product / floor for times, floor / product for rates: always "how many times slower than the floor". */
  ratio: number;
  unit: string;
  target?: string;
  met?: boolean;
  notes?: string;
}

export function timeRow(row: string, metric: string, productMs: number, floorMs: number, target?: { maxRatio: number; text: string }, notes?: string): BenchRow {
  const ratio = productMs / floorMs;
  return { row, metric, product: round(productMs), floor: round(floorMs), ratio: round(ratio, 2), unit: 'ms', target: target?.text, met: target ? ratio <= target.maxRatio : undefined, notes };
}

export function rateRow(row: string, metric: string, productPerS: number, floorPerS: number, unit: string, target?: { maxRatio: number; text: string }, notes?: string): BenchRow {
  const ratio = floorPerS / productPerS;
  return { row, metric, product: round(productPerS), floor: round(floorPerS), ratio: round(ratio, 2), unit, target: target?.text, met: target ? ratio <= target.maxRatio : undefined, notes };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** The most times of `sorted` (ascending, ms) within any span of `windowMs`: the busiest second, for 1000. */
export function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (j < i) j = i;
    while (j < sorted.length && sorted[j] - sorted[i] < windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/** Runs a command and samples its peak resident memory from /proc (VmHWM) while it runs. */
export function runMeasured(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; peakRssMb: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let peakKb = 0;
    child.stdout.on('data', (d) => (stdout += d));
    const sample = setInterval(async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    }, 50);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sample);
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${code}`));
      else resolve({ ms: performance.now() - started, peakRssMb: peakKb / 1024, stdout });
    });
  });
}

/** Runs `count` tasks with at most `concurrency` in flight; returns each task's latency in ms. */
export async function runConcurrently(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ms: performance.now() - started, latencies: latencies.sort((a, b) => a - b) };
}

/** Busy CPU time of the whole machine (every process: product, PostgreSQL, Redis, the sink), from /proc/stat. */
export async function machineBusyMs(): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
  const [user, nice, system, , , irq, softirq] = cpu.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + irq + softirq) * 1000) / 100;
}

/** A TCP port nothing listens on right now (the fault runs use it too). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
