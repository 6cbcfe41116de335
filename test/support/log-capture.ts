import fs from 'node:fs';

/** Everything written to stdout and stderr while it runs, however it gets there (pino writes to the descriptors directly). */
export function captureOutput(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const keep = (fd: unknown, data: unknown) => {
    if (fd !== 1 && fd !== 2) return false;
    lines.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
    return true;
  };
  const original = { write: fs.write, writeSync: fs.writeSync, stdout: process.stdout.write, stderr: process.stderr.write };
  const writable = fs as unknown as Record<string, unknown>;
  writable.writeSync = (fd: number, data: unknown, ...rest: unknown[]) =>
    keep(fd, data) ? Buffer.byteLength(data as string) : (original.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
  writable.write = (fd: number, data: unknown, ...rest: unknown[]) => {
    if (!keep(fd, data)) return (original.write as (...a: unknown[]) => void)(fd, data, ...rest);
    const callback = rest.find((r) => typeof r === 'function') as ((e: null, n: number) => void) | undefined;
    process.nextTick(() => callback?.(null, Buffer.byteLength(data as string)));
  };
  process.stdout.write = ((chunk: unknown) => keep(1, chunk)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => keep(2, chunk)) as typeof process.stderr.write;
  return {
    lines,
    restore() {
      writable.write = original.write;
      writable.writeSync = original.writeSync;
      process.stdout.write = original.stdout;
      process.stderr.write = original.stderr;
    },
  };
}
