import { Module } from '@nestjs/common';

/** Mail a user asked for (reset links, confirmations) on its own queue. */
@Module({})
export class UserMailModule {}
