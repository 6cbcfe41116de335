import { Module } from '@nestjs/common';
import { ProgressModule } from '../progress/progress.module.js';
import { BounceMailboxReader } from './bounce-mailbox.service.js';
import { BounceProcessor } from './bounce-processor.service.js';
import { BounceSmtpListener } from './bounce-smtp-listener.service.js';
import { BouncesModule } from './bounces.module.js';

/** Receives asynchronous bounces (worker role): the SMTP listener and the IMAP mailbox reader, each when configured. */
@Module({
  imports: [BouncesModule, ProgressModule],
  providers: [BounceProcessor, BounceSmtpListener, BounceMailboxReader],
  exports: [BounceProcessor, BounceSmtpListener, BounceMailboxReader],
})
export class BouncesWorkerModule {}
