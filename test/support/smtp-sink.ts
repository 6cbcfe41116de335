import type { AddressInfo, Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  /** The envelope sender (MAIL FROM). */
  from: string;
  raw: string;
  parsed: ParsedMail;
  /** Date.now() when the sink accepted the message (fault runs measure recovery times from it). */
  receivedAt: number;
}

/** Decides the reply for one recipient: undefined accepts, otherwise an SMTP error to answer with. */
export type SmtpBehaviour = (recipient: string) => { code: number; message: string } | undefined;

/** A real SMTP server inside the test, so the real nodemailer path runs. */
export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  behaviour: SmtpBehaviour = () => undefined;
  /** Answers each DATA this much later (a slow provider). */
  dataDelayMs = 0;
  /** Closes the connection in the middle of DATA instead of answering, while this returns true. */
  dropDuringData: () => boolean = () => false;
  private server!: SMTPServer;
  private waiters: Array<() => void> = [];
  private readonly sockets = new Map<number, Socket>();
  port = 0;

  /** `smtpUtf8: false` is a server that does not announce SMTPUTF8 (RFC 6531). */
  constructor(private readonly options: { smtpUtf8?: boolean } = {}) {}

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      hideSMTPUTF8: this.options.smtpUtf8 === false,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      size: 1024 * 1024,
      onRcptTo: (address, _session, callback) => {
        const refusal = this.behaviour(address.address);
        if (!refusal) return callback();
        const err = Object.assign(new Error(refusal.message), { responseCode: refusal.code });
        callback(err);
      },
      onData: (stream, session: SMTPServerSession, callback) => {
        const chunks: Buffer[] = [];
        if (this.dropDuringData()) {
          stream.once('data', () => this.sockets.get(session.remotePort)?.destroy());
          stream.on('end', () => callback(new Error('connection dropped')));
          return;
        }
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          if (this.dataDelayMs) await new Promise((r) => setTimeout(r, this.dataDelayMs));
          const raw = Buffer.concat(chunks).toString('utf8');
          const to = session.envelope.rcptTo.map((r) => r.address).join(',');
          const receivedAt = Date.now();
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          this.messages.push({ to, from, raw, parsed: await simpleParser(raw), receivedAt });
          this.waiters.splice(0).forEach((w) => w());
          callback();
        });
      },
    });
    // A client killed mid-conversation (fault runs) resets its connection; that is not the sink's failure.
    this.server.on('error', () => undefined);
    this.server.server.on('connection', (socket: Socket) => {
      const port = socket.remotePort ?? 0;
      this.sockets.set(port, socket);
      socket.on('close', () => this.sockets.delete(port));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}?tls=off`;
  }

  to(address: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to === address);
  }

  async waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for mail (have ${this.messages.length})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
