import { Module } from '@nestjs/common';
import { AuditModule } from '../../audit/audit.module.js';
import { BouncesModule } from '../../bounces/bounces.module.js';
import { ProgressModule } from '../../progress/progress.module.js';
import { TemplatesModule } from '../../templates/templates.module.js';
import { NoticeBacklogMetrics } from './notice-backlog.metrics.js';
import { NoticePacerService } from './notice-pacer.service.js';
import { NoticeQueueService } from './notice-queue.service.js';
import { NoticeRendererService } from './notice-renderer.service.js';
import { NoticeSenderService } from './notice-sender.service.js';

/** Link-free campaign notices: rendering, the link check and queueing. */
@Module({
  imports: [AuditModule, BouncesModule, ProgressModule, TemplatesModule],
  providers: [NoticeRendererService, NoticeQueueService, NoticeSenderService, NoticePacerService, NoticeBacklogMetrics],
  exports: [NoticeRendererService, NoticeQueueService, NoticeSenderService, NoticePacerService],
})
export class NoticesModule {}
