import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { redactUrl, REDACT_PATHS } from './redaction.js';
import { requestLogLevel } from './request-log-level.js';

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
          serializers: {
            req: (req: { id: unknown; method: string; url: string; raw?: { params?: Record<string, unknown> } }) => ({
              id: req.id,
              method: req.method,
              url: redactUrl(req.url, req.raw?.params),
            }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          customLogLevel: requestLogLevel,
          autoLogging: { ignore: (req: { url?: string }) => req.url === '/health' || req.url === '/metrics' },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
