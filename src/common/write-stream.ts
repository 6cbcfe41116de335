import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** A writer that waits for 'drain' when the client reads slower than we produce (large CSV exports). */
export function writeStream(out: Writable): (chunk: string) => Promise<void> {
  return async (chunk) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
}
