import { Module } from '@nestjs/common';

/** End-user sign-in, the pre-reset gate, reset links and the reset itself. */
@Module({})
export class AuthModule {}
