import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../../bench/support.js';

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** A Redis server of the fault run's own, so restarting it never disturbs other tests. */
export class PrivateRedis {
  private child?: ChildProcess;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'ro-redis-'));
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    await waitUntil(async () => {
      const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, 10_000, 'redis-server');
    return this;
  }

  /** Stops the server at once; with no persistence every queue is lost. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

/** A worker process (ROLE=worker) running the built service, which a fault run may kill -9 and restart; its probes on a free port. */
export class WorkerProcess {
  private child?: ChildProcess;
  output = '';

  constructor(private readonly env: Record<string, string>) {}

  start(): this {
    this.child = spawn(process.execPath, ['dist/src/main.js'], {
      env: { ...process.env, PORT: '0', ...this.env, ROLE: 'worker' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d) => (this.output += d));
    this.child.stderr?.on('data', (d) => (this.output += d));
    return this;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length ? path.join(root, versions[0], 'bin') : '';
})();

function asPostgres(command: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('su', ['postgres', '-s', '/bin/sh', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/**
 * A PostgreSQL cluster of the fault run's own (initdb in a temp dir, run as the `postgres` OS user on a free port),
 * so stopping it never disturbs the machine's shared server that other test runs use.
 */
export class PrivatePostgres {
  port = 0;
  private dir = '';

  static available(): boolean {
    return Boolean(PG_BIN) && process.getuid?.() === 0;
  }

  /** The server URL without a database (TEST_DATABASE_SERVER style). */
  get serverUrl(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}`;
  }

  private pgCtl(args: string): Promise<{ code: number | null; output: string }> {
    return asPostgres(`${PG_BIN}/pg_ctl -D ${this.dir}/data ${args}`);
  }

  async start(): Promise<this> {
    if (!this.dir) {
      this.port = await freePort();
      this.dir = await mkdtemp(path.join(tmpdir(), 'ro-pg-'));
      chownSync(this.dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
      const init = await asPostgres(`${PG_BIN}/initdb -D ${this.dir}/data -A trust -U postgres -E UTF8 --no-sync`);
      if (init.code !== 0) throw new Error(`initdb failed: ${init.output}`);
    }
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    const started = await this.pgCtl(`-o '${options}' -l ${this.dir}/log -w -t 60 start`);
    if (started.code !== 0) throw new Error(`pg_ctl start failed: ${started.output}`);
    return this;
  }

  /** Stops the server the way a crash or a failover does: every connection is cut, nothing is shut down cleanly. */
  async stop(): Promise<void> {
    await this.pgCtl('-m immediate -w stop');
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  async destroy(): Promise<void> {
    if (!this.dir) return;
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
    this.dir = '';
  }
}
