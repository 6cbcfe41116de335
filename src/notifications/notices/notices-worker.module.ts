import { Module } from '@nestjs/common';
import { NoticeWorkersService } from './notice-workers.service.js';
import { NoticesModule } from './notices.module.js';

/** The throttled notice senders: one BullMQ worker per active campaign queue. */
@Module({ imports: [NoticesModule], providers: [NoticeWorkersService], exports: [NoticeWorkersService] })
export class NoticesWorkerModule {}
