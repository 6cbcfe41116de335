import { Module } from '@nestjs/common';
import { ApplicationEventsModule } from '../application-events/application-events.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { DigestModule } from '../notifications/digest/digest.module.js';
import { NoticesModule } from '../notifications/notices/notices.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { CampaignFlaggingService } from './campaign-flagging.service.js';
import { CampaignsController } from './campaigns.controller.js';
import { CampaignsService } from './campaigns.service.js';

/** Campaign lifecycle: create, preview, launch, pause, resume, cancel (HTTP and services). */
@Module({
  imports: [NoticesModule, DigestModule, AuditModule, ProgressModule, ApplicationEventsModule],
  controllers: [CampaignsController],
  providers: [CampaignsService, CampaignFlaggingService],
  exports: [CampaignsService, CampaignFlaggingService, NoticesModule, DigestModule],
})
export class CampaignsModule {}
