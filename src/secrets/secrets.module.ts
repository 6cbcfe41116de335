import { Module } from '@nestjs/common';
import { RateLimiterService } from '../auth/rate-limiter.service.js';
import { SecretCipher } from './secret-cipher.js';
import { SecretPagesController } from './secret-pages.controller.js';
import { SecretRevealService } from './secret-reveal.service.js';
import { SecretsController } from './secrets.controller.js';
import { SecretsService } from './secrets.service.js';

/** Admin-assisted temporary passwords delivered through a view-once link. */
@Module({
  controllers: [SecretsController, SecretPagesController],
  providers: [SecretsService, SecretRevealService, SecretCipher, RateLimiterService],
  exports: [SecretsService, SecretRevealService],
})
export class SecretsModule {}
