import { Module } from '@nestjs/common';
import { AuditModule } from '../../audit/audit.module.js';
import { BouncesModule } from '../../bounces/bounces.module.js';
import { ProgressModule } from '../../progress/progress.module.js';
import { TemplatesModule } from '../../templates/templates.module.js';
import { NoticeBacklogMetrics } from './notice-backlog.metrics.js';
import { NoticeClaimsService } from './notice-claims.service.js';
import { NoticePacerService } from './notice-pacer.service.js';
import { NoticeQueueService } from './notice-queue.service.js';
import { NoticeRendererService } from './notice-renderer.service.js';
import { NoticeSenderService } from './notice-sender.service.js';
import { ReminderFeedService } from './reminder-feed.service.js';
import { ReminderSenderService } from './reminder-sender.service.js';

/** Link-free campaign notices and reminders: rendering, the link check and queueing. */
@Module({
  imports: [AuditModule, BouncesModule, ProgressModule, TemplatesModule],
  providers: [NoticeRendererService, NoticeQueueService, NoticeClaimsService, NoticeSenderService, NoticePacerService, NoticeBacklogMetrics, ReminderSenderService, ReminderFeedService],
  exports: [NoticeRendererService, NoticeQueueService, NoticeSenderService, NoticePacerService, ReminderSenderService, ReminderFeedService],
})
export class NoticesModule {}
