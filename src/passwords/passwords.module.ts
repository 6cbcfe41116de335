import { CaseFoldedPasswordService } from './case-folded-password.service.js';
import { Global, Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module.js';
import { PasswordChangeService } from './password-change.service.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { PasswordPolicyService } from './password-policy.service.js';

@Global()
@Module({
  imports: [DirectoryModule],
  providers: [PasswordHasherService, PasswordPolicyService, PasswordChangeService, CaseFoldedPasswordService],
  exports: [PasswordHasherService, PasswordPolicyService, PasswordChangeService, CaseFoldedPasswordService],
})
export class PasswordsModule {}
