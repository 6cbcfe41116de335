import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { NoticesModule } from '../notifications/notices/notices.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { CampaignFlaggingService } from './campaign-flagging.service.js';
import { CampaignsController } from './campaigns.controller.js';
import { CampaignsService } from './campaigns.service.js';

/** Campaign lifecycle: create, preview, launch, pause, resume, cancel (HTTP and services). */
@Module({
  imports: [NoticesModule, AuditModule, ProgressModule],
  controllers: [CampaignsController],
  providers: [CampaignsService, CampaignFlaggingService],
  exports: [CampaignsService, CampaignFlaggingService, NoticesModule],
})
export class CampaignsModule {}
