import { Module } from '@nestjs/common';
import { RateLimiterService } from './rate-limiter.service.js';

/** Redis-backed attempt limits, shared by the sign-in flows (auth) and the one-time secret pages (secrets). */
@Module({ providers: [RateLimiterService], exports: [RateLimiterService] })
export class RateLimitModule {}
