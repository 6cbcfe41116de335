import { Module } from '@nestjs/common';
import { DirectoryService } from './directory.service.js';

/** The connection to the LDAP / Active Directory server (see DIRECTORY_* settings). */
@Module({
  providers: [DirectoryService],
  exports: [DirectoryService],
})
export class DirectoryModule {}
