import { Global, Module } from '@nestjs/common';
import { AuditLogReaderService } from './audit-log-reader.service.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

@Global()
@Module({ controllers: [AuditController], providers: [AuditService, AuditLogReaderService], exports: [AuditService] })
export class AuditModule {}
