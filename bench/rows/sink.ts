import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arrival, ArrivalKind, SinkMessage } from '../smtp-sink.js';

export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The SMTP sink child process (bench/smtp-sink.ts) and every arrival it reported. */
export class SinkProcess {
  readonly arrivals: Arrival[] = [];
  private waiters = new Set<() => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (msg: SinkMessage) => {
      if (msg.type !== 'arrivals') return;
      for (const a of msg.list) this.arrivals.push(a);
      for (const w of this.waiters) w();
    });
  }

  /** `file`: the compiled sink; tests that import this class from its TypeScript source pass dist/bench/smtp-sink.js. */
  static async start(file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'smtp-sink.js')): Promise<SinkProcess> {
    const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`SMTP sink exited with ${code}`)));
      child.on('message', (msg: SinkMessage) => {
        if (msg.type === 'ready') resolve(msg.port);
      });
    });
    return new SinkProcess(child, port);
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}?tls=off`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Arrivals of one kind at or after `since` (epoch ms). */
  times(kind: ArrivalKind, since = 0): number[] {
    const out: number[] = [];
    for (const [t, , k] of this.arrivals) if (k === kind && t >= since) out.push(t);
    return out;
  }

  count(kind: ArrivalKind, since = 0): number {
    let n = 0;
    for (const [t, , k] of this.arrivals) if (k === kind && t >= since) n++;
    return n;
  }

  /** Resolves with the first arrival matching `match` (checking from index `from`), or null after timeoutMs. */
  async waitFor(match: (a: Arrival) => boolean, timeoutMs: number, from = 0): Promise<Arrival | null> {
    const deadline = Date.now() + timeoutMs;
    let checked = from;
    for (;;) {
      for (; checked < this.arrivals.length; checked++) if (match(this.arrivals[checked])) return this.arrivals[checked];
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.waiters.add(done);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill();
  }
}
