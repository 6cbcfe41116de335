import { type DynamicModule, Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { CampaignsModule } from '../campaigns/campaigns.module.js';
import type { AppConfig } from '../config/app-config.js';
import { InfrastructureModule } from '../infrastructure.module.js';
import { OperatorsModule } from '../operators/operators.module.js';
import { SecretsModule } from '../secrets/secrets.module.js';

/** What resetctl commands need: the services, without HTTP or queue workers. */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: CliModule, imports: [InfrastructureModule.forRoot(config), OperatorsModule, AccountsModule, CampaignsModule, SecretsModule] };
  }
}
