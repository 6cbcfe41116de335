import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service.js';

/** Infrastructure: every module records its own metrics in the one registry of the application. */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
