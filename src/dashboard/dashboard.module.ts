import { Module } from '@nestjs/common';

/** The managers' completion dashboard and operator sign-in. */
@Module({})
export class DashboardModule {}
