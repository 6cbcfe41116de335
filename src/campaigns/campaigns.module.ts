import { Module } from '@nestjs/common';

/** Campaign lifecycle: create, preview, launch, pause, resume, cancel (HTTP and services). */
@Module({})
export class CampaignsModule {}
