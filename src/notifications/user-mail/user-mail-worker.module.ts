import { Module } from '@nestjs/common';

/** The user-mail sender (BullMQ processor). */
@Module({})
export class UserMailWorkerModule {}
