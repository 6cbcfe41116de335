import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

export interface OutgoingMail {
  to: string;
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
}

/** Classifies a nodemailer error by the SMTP reply it carries. */
export function classifySmtpError(error: unknown): SmtpFailure {
  const err = error as { responseCode?: number; response?: string; code?: string; message?: string };
  const reply = (err.response ?? err.message ?? String(error)).slice(0, 500);
  const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
  return { permanent, reply: err.responseCode ? reply : `${err.code ?? 'ERROR'}: ${reply}` };
}

/**
 * One pooled SMTP transport per process, or a dev outbox of .eml files when SMTP_URL is unset.
 * Throttling is not done here: nodemailer's own rateLimit is per process, the queue's is global.
 */
@Injectable()
export class MailTransportService implements OnModuleDestroy {
  private readonly logger = new Logger(MailTransportService.name);
  private readonly transport: Transporter;
  readonly outboxDir?: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    if (config.mail.smtpUrl) {
      const url = new URL(config.mail.smtpUrl);
      this.transport = nodemailer.createTransport({
        pool: true,
        maxConnections: config.mail.poolSize,
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
      });
    } else {
      this.outboxDir = path.resolve(config.mail.outboxDir);
      this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    }
  }

  describe(): string {
    if (this.outboxDir) return `mail goes to the dev outbox ${this.outboxDir} as .eml files (set SMTP_URL to send over SMTP)`;
    const url = new URL(this.config.mail.smtpUrl!);
    return `mail goes over SMTP to ${url.hostname}:${url.port} (pool of ${this.config.mail.poolSize})`;
  }

  /** Sends one message; throws the transport's error (see classifySmtpError) when it is refused. */
  async send(mail: OutgoingMail): Promise<void> {
    const info = await this.transport.sendMail({
      from: this.config.mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
      headers: mail.headers,
    });
    if (this.outboxDir) {
      await mkdir(this.outboxDir, { recursive: true });
      const name = `${Date.now()}-${(mail.messageId ?? String(Math.random())).replace(/[^A-Za-z0-9.-]/g, '_')}.eml`;
      await writeFile(path.join(this.outboxDir, name), (info as { message: Buffer }).message);
    }
  }

  onModuleDestroy(): void {
    this.transport.close();
    this.logger.debug('mail transport closed');
  }
}
