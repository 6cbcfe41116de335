import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// bcryptjs is pure JavaScript: on the main thread a cost-12 hash blocks every other request for a quarter second.
// The workers load the same package by its resolved path, so the pool needs no build step of its own.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const bcrypt = require(${JSON.stringify(createRequire(import.meta.url).resolve('bcryptjs'))});
parentPort.on('message', ({ id, password, hash, cost }) => {
  if (cost) return parentPort.postMessage({ id, result: bcrypt.hashSync(password, cost) });
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch {}
  parentPort.postMessage({ id, result: ok });
});`;

interface Pending {
  resolve: (result: never) => void;
  reject: (err: Error) => void;
}

/** A small pool of worker threads that verify and make bcrypt hashes off the event loop, started on first use. */
export class BcryptWorkers {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending & { worker: Worker }>();
  private next = 0;
  private ids = 0;

  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  verify(password: string, hash: string): Promise<boolean> {
    return this.run({ password, hash });
  }

  hash(password: string, cost: number): Promise<string> {
    return this.run({ password, cost });
  }

  private run<T>(message: { password: string; hash?: string; cost?: number }): Promise<T> {
    const worker = this.worker();
    const id = ++this.ids;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: never) => void, reject, worker });
      worker.ref();
      worker.postMessage({ id, ...message });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }

  private worker(): Worker {
    if (this.workers.length < this.size) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, result }: { id: number; result: never }) => this.settle(id, (p) => p.resolve(result)));
      worker.on('error', (err) => this.fail(worker, err));
      worker.on('exit', () => this.fail(worker, new Error('a bcrypt worker stopped')));
      this.workers.push(worker);
      return worker;
    }
    this.next = (this.next + 1) % this.workers.length;
    return this.workers[this.next];
  }

  private settle(id: number, done: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    // An idle worker must not keep the process alive (a CLI command ends when its work does).
    if (![...this.pending.values()].some((o) => o.worker === p.worker)) p.worker.unref();
    done(p);
  }

  private fail(worker: Worker, err: Error): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    for (const [id, p] of this.pending) if (p.worker === worker) this.settle(id, (q) => q.reject(err));
  }
}
