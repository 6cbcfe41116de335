import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ImapFlow } from 'imapflow';
import type { AppConfig, BounceImapConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BounceProcessor } from './bounce-processor.service.js';

/** The keyword a processed mail gets, so no poll reads it again (also set: \Seen, for a person looking at the box). */
export const PROCESSED_KEYWORD = '$ResetOrchestratorProcessed';

/** Most mails one poll reads; the rest wait for the next poll, so a flooded mailbox cannot hold one poll for hours. */
const POLL_BATCH = 500;

/**
 * BOUNCE_IMAP_URL: reads the bounce mailbox every BOUNCE_IMAP_INTERVAL. Each mail is processed, then flagged; a mail
 * whose bounce could not be recorded (database down) stays unflagged for the next poll. Two workers polling the same
 * box may read a mail twice; the bounce is recorded once (its report key).
 */
@Injectable()
export class BounceMailboxReader implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BounceMailboxReader.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly processor: BounceProcessor,
  ) {}

  onApplicationBootstrap(): void {
    const imap = this.config.bounces?.imap;
    if (!imap) return;
    this.logger.log(`reading bounces from IMAP mailbox ${imap.mailbox} on ${imap.host}:${imap.port} every ${imap.intervalSeconds}s`);
    const tick = () => {
      void this.poll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, imap.intervalSeconds * 1000);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** One pass over the mailbox (never two at once); returns how many mails it flagged as processed. */
  poll(): Promise<number> {
    const imap = this.config.bounces?.imap;
    if (!imap) return Promise.resolve(0);
    this.running ??= this.readMailbox(imap)
      .catch((err: Error) => {
        this.logger.warn(`could not read the bounce mailbox: ${err.message}`);
        return 0;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async readMailbox(imap: BounceImapConfig): Promise<number> {
    const client = new ImapFlow({
      host: imap.host,
      port: imap.port,
      secure: imap.secure,
      doSTARTTLS: imap.requireStartTls ? true : undefined,
      auth: { user: imap.user, pass: imap.password },
      logger: false,
    });
    client.on('error', (err: Error) => this.logger.warn(`bounce mailbox connection: ${err.message}`));
    await client.connect();
    let processed = 0;
    try {
      const lock = await client.getMailboxLock(imap.mailbox);
      try {
        const uids = (await client.search({ unKeyword: PROCESSED_KEYWORD }, { uid: true })) || [];
        for (const uid of uids.slice(0, POLL_BATCH)) {
          if (this.stopped) break;
          const message = await client.fetchOne(String(uid), { source: true }, { uid: true });
          if (!message || !message.source) continue;
          try {
            await this.processor.process(message.source);
          } catch (err) {
            this.logger.warn(`could not record a bounce from the mailbox, kept for the next poll: ${(err as Error).message}`);
            continue;
          }
          await client.messageFlagsAdd(String(uid), ['\\Seen', PROCESSED_KEYWORD], { uid: true });
          processed++;
        }
      } finally {
        lock.release();
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
    return processed;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
