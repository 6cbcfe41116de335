import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from './config/app-config.js';
import { InfrastructureModule } from './infrastructure.module.js';
import { assertJobWiring } from './queues/job-handlers.js';
import { WORKER_MODULES } from './worker-modules.js';

/** The queue workers without the HTTP server (ROLE=worker). */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    assertJobWiring(WORKER_MODULES);
    return { module: WorkerModule, imports: [InfrastructureModule.forRoot(config), ...WORKER_MODULES] };
  }
}
