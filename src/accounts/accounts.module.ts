import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PasswordsModule } from '../passwords/passwords.module.js';
import { AccountsImportService } from './accounts-import.service.js';
import { AccountsController } from './accounts.controller.js';
import { AccountsService } from './accounts.service.js';

@Module({
  imports: [AuditModule, PasswordsModule],
  controllers: [AccountsController],
  providers: [AccountsService, AccountsImportService],
  exports: [AccountsService],
})
export class AccountsModule {}
