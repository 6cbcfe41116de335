import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PasswordsModule } from '../passwords/passwords.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { TemplatesModule } from '../templates/templates.module.js';
import { SecretCipher } from './secret-cipher.js';
import { SecretPagesController } from './secret-pages.controller.js';
import { SecretRevealService } from './secret-reveal.service.js';
import { SecretsController } from './secrets.controller.js';
import { SecretsService } from './secrets.service.js';

/** Admin-assisted temporary passwords delivered through a view-once link. */
@Module({
  imports: [RateLimitModule, AuditModule, PasswordsModule, TemplatesModule],
  controllers: [SecretsController, SecretPagesController],
  providers: [SecretsService, SecretRevealService, SecretCipher],
  exports: [SecretsService, SecretRevealService],
})
export class SecretsModule {}
