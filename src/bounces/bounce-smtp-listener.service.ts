import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SMTPServer } from 'smtp-server';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BounceProcessor } from './bounce-processor.service.js';
import { VerpAddresses } from './verp.js';

/** A bounce quotes at most the notice (a few KB); anything far larger is not one of ours. */
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * BOUNCE_SMTP_PORT: an SMTP listener a relay forwards the bounce domain's mail to. It accepts only recipients of the
 * bounce form and answers DATA after the bounce is recorded, so when the database is down the relay keeps the mail
 * (451) and tries again.
 */
@Injectable()
export class BounceSmtpListener implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BounceSmtpListener.name);
  private server?: SMTPServer;
  /** The bound port (BOUNCE_SMTP_PORT=0 picks a free one). */
  port?: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly verp: VerpAddresses,
    private readonly processor: BounceProcessor,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const smtp = this.config.bounces?.smtp;
    if (!smtp) return;
    const server = new SMTPServer({
      // A relay on a trusted network hands over mail; there is nobody to authenticate, and the loopback default
      // needs no TLS.
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      size: MAX_MESSAGE_BYTES,
      onRcptTo: (address, _session, callback) =>
        this.verp.isBounceAddress(address.address) ? callback() : callback(smtpError(550, '5.1.1 not a bounce address of this service')),
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          if (stream.sizeExceeded) return callback(smtpError(552, '5.3.4 message too big for a bounce'));
          this.processor
            .process(Buffer.concat(chunks), session.envelope.rcptTo.map((r) => r.address))
            .then(() => callback())
            .catch((err: Error) => {
              this.logger.warn(`could not record a bounce, the relay will retry: ${err.message}`);
              callback(smtpError(451, '4.3.0 try again later'));
            });
        });
      },
    });
    server.on('error', (err) => this.logger.warn(`bounce listener: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(smtp.port, smtp.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.server.address() as AddressInfo).port;
    this.logger.log(`receiving bounces over SMTP on ${smtp.host}:${this.port}`);
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
