import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module.js';
import { PasswordsModule } from '../passwords/passwords.module.js';
import { TemplatesModule } from '../templates/templates.module.js';
import { OperatorAuthGuard } from './operator-auth.guard.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { OperatorSessionsService } from './operator-sessions.service.js';
import { OperatorSignInController } from './operator-sign-in.controller.js';
import { OperatorsController } from './operators.controller.js';
import { OperatorsService } from './operators.service.js';

/** Operators, their tokens and dashboard sessions, the sign-in pages, and the role guard every @Roles route passes. */
@Module({
  imports: [AuditModule, PasswordsModule, TemplatesModule],
  controllers: [OperatorsController, OperatorSignInController],
  providers: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService, { provide: APP_GUARD, useClass: OperatorAuthGuard }],
  exports: [OperatorsService, OperatorSessionsService, OperatorAuthenticatorService],
})
export class OperatorsModule {}
