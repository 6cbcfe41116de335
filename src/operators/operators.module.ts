import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { OperatorSessionsService } from './operator-sessions.service.js';
import { OperatorsController } from './operators.controller.js';
import { OperatorsService } from './operators.service.js';

@Global()
@Module({
  controllers: [OperatorsController],
  providers: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService, { provide: APP_GUARD, useClass: OperatorAuthGuard }],
  exports: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService],
})
export class OperatorsModule {}
