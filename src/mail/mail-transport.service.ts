import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type DKIM from 'nodemailer/lib/dkim/index.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

export interface OutgoingMail {
  to: string;
  /** SMTP MAIL FROM when it differs from MAIL_FROM: a notice's VERP bounce address. */
  envelopeFrom?: string;
  subject: string;
  text: string;
  html?: string;
  /** Stable per campaign+account so receivers can drop the rare duplicate after a crash. */
  messageId?: string;
  headers?: Record<string, string>;
}

export interface SmtpFailure {
  /** 4xx replies, dropped connections and timeouts are worth retrying; 5xx replies are not. */
  permanent: boolean;
  reply: string;
  /** For metrics: the reply's class, or `connection` when no reply came (refused, dropped, timed out). */
  replyClass: '4xx' | '5xx' | 'connection' | 'smtputf8';
}

/** An address whose local part is not ASCII, for a server that does not announce SMTPUTF8: nothing was sent. */
export class SmtpUtf8UnsupportedError extends Error {
  constructor() {
    super('not sent: the mail server does not announce SMTPUTF8, which this address needs (RFC 6531)');
  }
}

/** How long the answer of one probe for SMTPUTF8 is used before the server is asked again. */
const SMTPUTF8_PROBE_TTL_MS = 10 * 60_000;

function needsSmtpUtf8(address: string): boolean {
  // Domains are sent punycoded; only a non-ASCII local part needs the extension.
  return /[^\x00-\x7f]/.test(address.slice(0, address.lastIndexOf('@')));
}

/** Classifies a nodemailer error by the SMTP reply it carries. */
export function classifySmtpError(error: unknown): SmtpFailure {
  if (error instanceof SmtpUtf8UnsupportedError) return { permanent: true, reply: error.message, replyClass: 'smtputf8' };
  const err = error as { responseCode?: number; response?: string; code?: string; message?: string };
  const reply = (err.response ?? err.message ?? String(error)).slice(0, 500);
  const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
  const replyClass = permanent ? '5xx' : err.responseCode ? '4xx' : 'connection';
  return { permanent, reply: err.responseCode ? reply : `${err.code ?? 'ERROR'}: ${reply}`, replyClass };
}

/** Reads the DKIM key once at start-up, so a missing or unreadable key stops the process instead of a send. */
function dkimOptions(dkim: { domain: string; selector: string; privateKeyFile: string }): DKIM.Options {
  let privateKey: string;
  try {
    privateKey = readFileSync(dkim.privateKeyFile, 'utf8');
  } catch (err) {
    throw new Error(`DKIM_PRIVATE_KEY_FILE ${dkim.privateKeyFile} cannot be read: ${(err as Error).message}`);
  }
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(privateKey)) throw new Error(`DKIM_PRIVATE_KEY_FILE ${dkim.privateKeyFile} is not a PEM private key`);
  return { domainName: dkim.domain, keySelector: dkim.selector, privateKey };
}

/** Where and how to reach the SMTP server of SMTP_URL, for the pools and for a probe. */
function connectionOptions(smtpUrl: string) {
  const url = new URL(smtpUrl);
  return {
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    ignoreTLS: url.searchParams.get('tls') === 'off',
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

/** Connections kept for mail a user is waiting for (reset links, secret links), apart from the notice pool. */
const USER_MAIL_CONNECTIONS = 2;

/**
 * Two pooled SMTP transports per process, or a dev outbox of .eml files when SMTP_URL is unset: one for campaign
 * notices (`sendNotice`) and a small one for mail a user just asked for (`send`), so a reset link never waits behind
 * a draining backlog of notices in the same pool's queue.
 * Throttling is not done here: nodemailer's own rateLimit is per process, the queue's is global.
 */
@Injectable()
export class MailTransportService implements OnModuleDestroy {
  private readonly logger = new Logger(MailTransportService.name);
  private readonly notices: Transporter;
  private readonly userMail: Transporter;
  readonly outboxDir?: string;
  private readonly dkim?: DKIM.Options;
  private smtpUtf8?: { announced: Promise<boolean>; until: number };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.dkim = config.mail.dkim && dkimOptions(config.mail.dkim);
    if (config.mail.smtpUrl) {
      this.notices = this.smtpTransport(config.mail.smtpUrl, config.mail.poolSize);
      this.userMail = this.smtpTransport(config.mail.smtpUrl, USER_MAIL_CONNECTIONS);
    } else {
      this.outboxDir = path.resolve(config.mail.outboxDir);
      this.notices = this.userMail = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix', dkim: this.dkim });
    }
  }

  private smtpTransport(smtpUrl: string, connections: number): Transporter {
    return nodemailer.createTransport({
      pool: true,
      maxConnections: connections,
      maxMessages: Infinity,
      // A message whose connection dropped may already have been accepted; the queue's retry, which checks
      // the database first, decides whether to send again, not the pool on its own.
      maxRequeues: 0,
      ...connectionOptions(smtpUrl),
      dkim: this.dkim,
    });
  }

  /**
   * Whether the SMTP server announces SMTPUTF8, asked with a connection of its own (nodemailer's pool does not say)
   * and remembered for a while; nodemailer uses the extension by itself when it is there.
   */
  private announcesSmtpUtf8(): Promise<boolean> {
    const now = Date.now();
    if (!this.smtpUtf8 || this.smtpUtf8.until <= now) {
      const connection = new SMTPConnection(connectionOptions(this.config.mail.smtpUrl!));
      const announced = new Promise<boolean>((resolve, reject) => {
        connection.once('error', reject);
        connection.connect(() => {
          // The EHLO reply's extensions are only kept in this field.
          const extensions = (connection as unknown as { _supportedExtensions: string[] })._supportedExtensions;
          connection.quit();
          resolve(extensions.includes('SMTPUTF8'));
        });
      });
      announced.catch(() => (this.smtpUtf8 = undefined));
      this.smtpUtf8 = { announced, until: now + SMTPUTF8_PROBE_TTL_MS };
    }
    return this.smtpUtf8.announced;
  }

  describe(): string {
    const signed = this.dkim ? `, DKIM-signed for ${this.dkim.domainName} (selector ${this.dkim.keySelector})` : '';
    if (this.outboxDir) return `mail goes to the dev outbox ${this.outboxDir} as .eml files${signed} (set SMTP_URL to send over SMTP)`;
    const url = new URL(this.config.mail.smtpUrl!);
    return `mail goes over SMTP to ${url.hostname}:${url.port} (pool of ${this.config.mail.poolSize} for notices, ${USER_MAIL_CONNECTIONS} for user mail)${signed}`;
  }

  /** Sends mail a user is waiting for; throws the transport's error (see classifySmtpError) when it is refused. */
  send(mail: OutgoingMail): Promise<void> {
    return this.deliver(this.userMail, mail);
  }

  /** Sends one campaign notice through the notice pool; throws like `send`. */
  sendNotice(mail: OutgoingMail): Promise<void> {
    return this.deliver(this.notices, mail);
  }

  private async deliver(transport: Transporter, mail: OutgoingMail): Promise<void> {
    if (!this.outboxDir && needsSmtpUtf8(mail.to) && !(await this.announcesSmtpUtf8())) throw new SmtpUtf8UnsupportedError();
    const info = await transport.sendMail({
      from: this.config.mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
      headers: mail.headers,
      envelope: mail.envelopeFrom ? { from: mail.envelopeFrom, to: mail.to } : undefined,
    });
    if (this.outboxDir) {
      await mkdir(this.outboxDir, { recursive: true });
      const name = `${Date.now()}-${(mail.messageId ?? String(Math.random())).replace(/[^A-Za-z0-9.-]/g, '_')}.eml`;
      await writeFile(path.join(this.outboxDir, name), (info as { message: Buffer }).message);
    }
  }

  onModuleDestroy(): void {
    this.notices.close();
    if (this.userMail !== this.notices) this.userMail.close();
    this.logger.debug('mail transport closed');
  }
}
