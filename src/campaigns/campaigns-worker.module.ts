import { Module } from '@nestjs/common';
import { NoticesWorkerModule } from '../notifications/notices/notices-worker.module.js';
import { CampaignSweeperService } from './campaign-sweeper.service.js';
import { CampaignsModule } from './campaigns.module.js';
import { CampaignsProcessor } from './campaigns.processor.js';

/** Campaign background jobs: flagging in batches, feeding the notice queues in windows, and the recovery sweep. */
@Module({ imports: [CampaignsModule, NoticesWorkerModule], providers: [CampaignsProcessor, CampaignSweeperService] })
export class CampaignsWorkerModule {}
