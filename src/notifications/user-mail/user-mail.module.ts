import { Module } from '@nestjs/common';
import { UserMailService } from './user-mail.service.js';

/** Mail a user asked for (reset links, confirmations) on its own queue. */
@Module({ providers: [UserMailService], exports: [UserMailService] })
export class UserMailModule {}
