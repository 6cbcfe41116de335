import { Global, Module } from '@nestjs/common';
import { CampaignProgressService } from './campaign-progress.service.js';

@Global()
@Module({ providers: [CampaignProgressService], exports: [CampaignProgressService] })
export class ProgressModule {}
