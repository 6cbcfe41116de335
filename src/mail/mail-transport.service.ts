import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type DKIM from 'nodemailer/lib/dkim/index.js';
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
  replyClass: '4xx' | '5xx' | 'connection';
}

/** Classifies a nodemailer error by the SMTP reply it carries. */
export function classifySmtpError(error: unknown): SmtpFailure {
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
    const url = new URL(smtpUrl);
    return nodemailer.createTransport({
      pool: true,
      maxConnections: connections,
      maxMessages: Infinity,
      // A message whose connection dropped may already have been accepted; the queue's retry, which checks
      // the database first, decides whether to send again, not the pool on its own.
      maxRequeues: 0,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
      secure: url.protocol === 'smtps:',
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      ignoreTLS: url.searchParams.get('tls') === 'off',
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      dkim: this.dkim,
    });
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
