import { Module } from '@nestjs/common';
import { AuditLogReaderService } from './audit-log-reader.service.js';
import { AuditController } from './audit.controller.js';

/** The operators' read API over the audit log (`/api/audit`); writing it is AuditService's (audit/). */
@Module({ controllers: [AuditController], providers: [AuditLogReaderService] })
export class AuditLogModule {}
