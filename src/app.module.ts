import { type DynamicModule, Module } from '@nestjs/common';
import { AccountsModule } from './accounts/accounts.module.js';
import { AuditLogModule } from './audit-log/audit-log.module.js';
import { AuthModule } from './auth/auth.module.js';
import { CampaignsModule } from './campaigns/campaigns.module.js';
import type { AppConfig } from './config/app-config.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { HealthModule } from './health/health.module.js';
import { InfrastructureModule } from './infrastructure.module.js';
import { OperatorsModule } from './operators/operators.module.js';
import { assertJobWiring } from './queues/job-handlers.js';
import { SecretsModule } from './secrets/secrets.module.js';
import { WORKER_MODULES } from './worker-modules.js';

/** The HTTP application; with ROLE=all it also runs the queue workers in the same process. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    if (config.role === 'all') assertJobWiring(WORKER_MODULES);
    return {
      module: AppModule,
      imports: [
        InfrastructureModule.forRoot(config),
        HealthModule,
        AccountsModule,
        CampaignsModule,
        AuthModule,
        SecretsModule,
        DashboardModule,
        // After AuthModule: global guards run in module order, and the user-session guard must run before the operator guard.
        AuditLogModule,
        OperatorsModule,
        ...(config.role === 'all' ? WORKER_MODULES : []),
      ],
    };
  }
}
