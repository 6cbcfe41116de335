import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { freePort } from '../support.js';

/**
 * The product's API as it is deployed: `node dist/src/main.js` with ROLE=api in a process of its own, so the load
 * generator in the bench process does not share its event loop. Same database, Redis and queue prefix as the
 * in-process product. With `role: 'worker'`, a worker process instead (its `/health` is on the same port).
 */
export class ApiProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {}

  static async start(env: Record<string, string>, role: 'api' | 'worker' = 'api'): Promise<ApiProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/main.js')], {
      env: { ...process.env, ...env, ROLE: role, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const api = new ApiProcess(child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the ${role} process exited with ${child.exitCode}`);
      const ok = await fetch(`${api.baseUrl}/health`).then((r) => r.ok, () => false);
      if (ok) return api;
      if (Date.now() > deadline) throw new Error(`the ${role} process did not answer /health within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** CPU time the process has used so far, ms (utime + stime from /proc). */
  async cpuMs(): Promise<number> {
    const stat = await readFile(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }

  /** Kills the process at once, as a crash or the kernel's OOM killer does: no shutdown hook runs. */
  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
