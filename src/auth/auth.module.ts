import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { DirectoryModule } from '../directory/directory.module.js';
import { UserMailModule } from '../notifications/user-mail/user-mail.module.js';
import { PasswordsModule } from '../passwords/passwords.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { TemplatesModule } from '../templates/templates.module.js';
import { AccountService } from './account.service.js';
import { AuthExceptionFilter } from './auth-exception.filter.js';
import { ForcedChangeService } from './forced-change.service.js';
import { HandoffController } from './handoff.controller.js';
import { HandoffService } from './handoff.service.js';
import { LoginController } from './login.controller.js';
import { LoginService } from './login.service.js';
import { NewPasswordService } from './new-password.service.js';
import { PageResponderService } from './page-responder.service.js';
import { PasswordChangeController } from './password-change.controller.js';
import { PreResetController } from './pre-reset.controller.js';
import { PreResetService } from './pre-reset.service.js';
import { ResetController } from './reset.controller.js';
import { ResetService } from './reset.service.js';
import { SessionsService } from './sessions.service.js';
import { UserSessionGuard } from './user-session.guard.js';

/** End-user sign-in (own or handed over by a connected application), the pre-reset gate, reset links and the reset itself. */
@Module({
  imports: [UserMailModule, RateLimitModule, PasswordsModule, ProgressModule, TemplatesModule, DirectoryModule],
  controllers: [LoginController, PreResetController, ResetController, PasswordChangeController, HandoffController],
  providers: [
    NewPasswordService,
    SessionsService,
    PageResponderService,
    LoginService,
    AccountService,
    PreResetService,
    ResetService,
    ForcedChangeService,
    HandoffService,
    { provide: APP_GUARD, useClass: UserSessionGuard },
    { provide: APP_FILTER, useClass: AuthExceptionFilter },
  ],
  exports: [SessionsService],
})
export class AuthModule {}
