/**
 * The benchmark's SMTP sink, run as a child process so its SMTP work does not share the product's event loop.
 * Accepts everything and does not parse messages: it only looks for the Message-ID prefix in the first bytes to tell
 * campaign notices, reset-link mails and floor messages apart, and reports each arrival's time (epoch ms, high
 * resolution) to the parent in batches.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export type ArrivalKind = 'notice' | 'link' | 'floor' | 'other';
/** [epoch ms, recipient, kind] */
export type Arrival = [number, string, ArrivalKind];

export type SinkMessage = { type: 'ready'; port: number } | { type: 'arrivals'; list: Arrival[] };

const SNIFF_BYTES = 4096;

function kindOf(head: string): ArrivalKind {
  if (head.includes('<reset-notice-')) return 'notice';
  if (head.includes('<reset-link-')) return 'link';
  if (head.includes('<bench-floor-')) return 'floor';
  return 'other';
}

export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

function main(): void {
  let pending: Arrival[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // A reverse DNS lookup per connection would add the resolver's time to every first message of a connection.
    disableReverseLookup: true,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < SNIFF_BYTES) head += chunk.toString('latin1', 0, Math.min(chunk.length, SNIFF_BYTES));
      });
      stream.on('end', () => {
        pending.push([epochMs(), session.envelope.rcptTo[0]?.address ?? '', kindOf(head)]);
        callback();
      });
    },
  });
  const flush = setInterval(() => {
    if (!pending.length) return;
    process.send?.({ type: 'arrivals', list: pending } satisfies SinkMessage);
    pending = [];
  }, 20);
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd !== 'stop') return;
    clearInterval(flush);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.server.address() as AddressInfo).port } satisfies SinkMessage);
  });
}

if (process.send) main();
