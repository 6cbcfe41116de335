import { Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SecretCipher } from './secret-cipher.js';
import { SecretPagesController } from './secret-pages.controller.js';
import { SecretRevealService } from './secret-reveal.service.js';
import { SecretsController } from './secrets.controller.js';
import { SecretsService } from './secrets.service.js';

/** Admin-assisted temporary passwords delivered through a view-once link. */
@Module({
  imports: [RateLimitModule, DirectoryModule],
  controllers: [SecretsController, SecretPagesController],
  providers: [SecretsService, SecretRevealService, SecretCipher],
  exports: [SecretsService, SecretRevealService],
})
export class SecretsModule {}
