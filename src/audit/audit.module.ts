import { Module } from '@nestjs/common';
import { PrismaModule } from '../prisma/prisma.module.js';
import { RedisModule } from '../redis/redis.module.js';
import { AuditService } from './audit.service.js';

/** Imports what it writes to, so it closes before them and its last head write still reaches Redis. */
@Module({ imports: [PrismaModule, RedisModule], providers: [AuditService], exports: [AuditService] })
export class AuditModule {}
