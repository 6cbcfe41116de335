import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import { OperatorsService } from './operators.service.js';

@Global()
@Module({
  providers: [OperatorsService, { provide: APP_GUARD, useClass: OperatorAuthGuard }],
  exports: [OperatorsService],
})
export class OperatorsModule {}
