import { Module } from '@nestjs/common';

/** Link-free campaign notices: rendering, the link check and queueing. */
@Module({})
export class NoticesModule {}
