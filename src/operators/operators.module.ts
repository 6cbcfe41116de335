import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { OperatorSessionsService } from './operator-sessions.service.js';
import { OperatorsController } from './operators.controller.js';
import { OperatorsService } from './operators.service.js';

@Global()
@Module({
  imports: [RateLimitModule],
  controllers: [OperatorsController],
  providers: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService, { provide: APP_GUARD, useClass: OperatorAuthGuard }],
  exports: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService],
})
export class OperatorsModule {}
