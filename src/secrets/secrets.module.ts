import { Module } from '@nestjs/common';

/** Admin-assisted temporary passwords delivered through a view-once link. */
@Module({})
export class SecretsModule {}
