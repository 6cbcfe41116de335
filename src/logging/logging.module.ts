import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { AppLogger } from './app-logger.js';

@Module({ providers: [AppLogger], exports: [AppLogger] })
export class LoggingModule implements NestModule {
  constructor(private readonly logger: AppLogger) {}

  configure(consumer: MiddlewareConsumer): void {
    // Express 5's path syntax for "every path"; the missing leading slash keeps `/` itself included.
    consumer.apply(this.logger.middleware).forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }
}
