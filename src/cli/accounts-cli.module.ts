import { type DynamicModule, Module } from '@nestjs/common';
import { AccountsImportService } from '../accounts/accounts-import.service.js';
import { AccountsService } from '../accounts/accounts.service.js';
import { DirectorySyncService } from '../accounts/directory/directory-sync.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { DirectoryModule } from '../directory/directory.module.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaModule } from '../prisma/prisma.module.js';
import { RedisModule } from '../redis/redis.module.js';

/**
 * What `resetctl accounts import` (from a file or the directory), `demo seed` and `directory check` need: the
 * database, the hasher, the audit log (with its signed head in Redis) and the directory connection. Not the
 * infrastructure module, whose queues and mail modules bring connections and SMTP these commands never use.
 */
@Module({})
export class AccountsCliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AccountsCliModule,
      imports: [ConfigModule.forRoot(config), PrismaModule, RedisModule, MetricsModule, DirectoryModule],
      providers: [AuditService, PasswordHasherService, AccountsImportService, AccountsService, DirectorySyncService],
    };
  }
}
