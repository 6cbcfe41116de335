import { type DynamicModule, Module } from '@nestjs/common';
import { ApplicationEventsModule } from './application-events/application-events.module.js';
import { AuditModule } from './audit/audit.module.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MailModule } from './mail/mail.module.js';
import { OperatorsModule } from './operators/operators.module.js';
import { PasswordsModule } from './passwords/passwords.module.js';
import { PrismaModule } from './prisma/prisma.module.js';
import { ProgressModule } from './progress/progress.module.js';
import { TemplatesModule } from './templates/templates.module.js';
import { QueuesModule } from './queues/queues.module.js';
import { RedisModule } from './redis/redis.module.js';

/** The shared, global infrastructure every entry point (API, worker, CLI, tests) starts with. */
@Module({})
export class InfrastructureModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: InfrastructureModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        PrismaModule,
        RedisModule,
        QueuesModule,
        MailModule,
        PasswordsModule,
        AuditModule,
        ProgressModule,
        ApplicationEventsModule,
        TemplatesModule,
        OperatorsModule,
      ],
    };
  }
}
