import { Module } from '@nestjs/common';
import { UserMailRendererService } from './user-mail-renderer.service.js';
import { UserMailService } from './user-mail.service.js';

/** Mail a user asked for (reset links, confirmations) on its own queue, and the one renderer every such mail goes through. */
@Module({ providers: [UserMailService, UserMailRendererService], exports: [UserMailService, UserMailRendererService] })
export class UserMailModule {}
