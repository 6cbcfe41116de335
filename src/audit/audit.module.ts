import { Global, Module } from '@nestjs/common';
import { PrismaModule } from '../prisma/prisma.module.js';
import { RedisModule } from '../redis/redis.module.js';
import { AuditLogReaderService } from './audit-log-reader.service.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

/** Imports what it writes to, so it closes before them and its last head write still reaches Redis. */
@Global()
@Module({ imports: [PrismaModule, RedisModule], controllers: [AuditController], providers: [AuditService, AuditLogReaderService], exports: [AuditService] })
export class AuditModule {}
