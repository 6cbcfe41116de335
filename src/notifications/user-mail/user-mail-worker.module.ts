import { Module } from '@nestjs/common';
import { AuditModule } from '../../audit/audit.module.js';
import { ProgressModule } from '../../progress/progress.module.js';
import { TemplatesModule } from '../../templates/templates.module.js';
import { PasswordChangedMailService } from './password-changed-mail.service.js';
import { ResetLinkMailService } from './reset-link-mail.service.js';
import { UserMailProcessor } from './user-mail.processor.js';

/** The user-mail sender (BullMQ processor). */
@Module({ imports: [AuditModule, ProgressModule, TemplatesModule], providers: [UserMailProcessor, ResetLinkMailService, PasswordChangedMailService] })
export class UserMailWorkerModule {}
