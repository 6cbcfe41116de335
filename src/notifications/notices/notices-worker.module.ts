import { Module } from '@nestjs/common';

/** The throttled notice sender (BullMQ processor). */
@Module({})
export class NoticesWorkerModule {}
