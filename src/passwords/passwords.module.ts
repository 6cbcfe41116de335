import { CaseFoldedPasswordService } from './case-folded-password.service.js';
import { Module } from '@nestjs/common';
import { ApplicationEventsModule } from '../application-events/application-events.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { DirectoryModule } from '../directory/directory.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { PasswordChangeService } from './password-change.service.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { PasswordPolicyService } from './password-policy.service.js';

@Module({
  imports: [AuditModule, ProgressModule, ApplicationEventsModule, DirectoryModule],
  providers: [PasswordHasherService, PasswordPolicyService, PasswordChangeService, CaseFoldedPasswordService],
  exports: [PasswordHasherService, PasswordPolicyService, PasswordChangeService, CaseFoldedPasswordService],
})
export class PasswordsModule {}
