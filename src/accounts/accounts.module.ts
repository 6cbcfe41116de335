import { Module } from '@nestjs/common';
import { AccountsImportService } from './accounts-import.service.js';
import { AccountsController } from './accounts.controller.js';
import { AccountsService } from './accounts.service.js';

@Module({
  controllers: [AccountsController],
  providers: [AccountsService, AccountsImportService],
  exports: [AccountsService],
})
export class AccountsModule {}
