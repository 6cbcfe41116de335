import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';
import { HealthController } from './health.controller.js';
import { HealthService } from './health.service.js';

@Module({ controllers: [HealthController], providers: [HealthService, { provide: APP_FILTER, useClass: DatabaseUnavailableFilter }], exports: [HealthService] })
export class HealthModule {}
