import { Module } from '@nestjs/common';

/** Campaign background jobs: flagging in batches and feeding the notice queue in windows. */
@Module({})
export class CampaignsWorkerModule {}
