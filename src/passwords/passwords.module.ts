import { Global, Module } from '@nestjs/common';
import { PasswordHasherService } from './password-hasher.service.js';

@Global()
@Module({ providers: [PasswordHasherService], exports: [PasswordHasherService] })
export class PasswordsModule {}
