import { Module } from '@nestjs/common';
import { DirectoryCheckService } from './directory-check.service.js';
import { DirectoryService } from './directory.service.js';

/** The connection to the LDAP / Active Directory server (see DIRECTORY_* settings). */
@Module({
  providers: [DirectoryService, DirectoryCheckService],
  exports: [DirectoryService, DirectoryCheckService],
})
export class DirectoryModule {}
