import { Module } from '@nestjs/common';
import { CampaignProgressService } from './campaign-progress.service.js';

@Module({ providers: [CampaignProgressService], exports: [CampaignProgressService] })
export class ProgressModule {}
