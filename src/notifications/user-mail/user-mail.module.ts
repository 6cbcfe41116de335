import { Module } from '@nestjs/common';
import { TemplatesModule } from '../../templates/templates.module.js';
import { UserMailRendererService } from './user-mail-renderer.service.js';
import { UserMailService } from './user-mail.service.js';

/** Mail a user asked for (reset links, confirmations) on its own queue, and the one renderer every such mail goes through. */
@Module({ imports: [TemplatesModule], providers: [UserMailService, UserMailRendererService], exports: [UserMailService, UserMailRendererService] })
export class UserMailModule {}
