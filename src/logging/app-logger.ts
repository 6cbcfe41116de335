import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type LoggerService } from '@nestjs/common';
import { type Level, type Logger, pino } from 'pino';
import { type HttpLogger, pinoHttp } from 'pino-http';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { redactUrl, REDACT_PATHS } from './redaction.js';
import { requestLogLevel } from './request-log-level.js';

/** The logger of the request being served, so every line logged while serving it carries the request's id. */
const requestScope = new AsyncLocalStorage<Logger>();

/** A stack trace Nest's exception handlers pass as a second string argument to error(). */
const STACK = /\n\s*at /;

/**
 * Nest's logger over one pino instance per application, with a pino-http line per request. Messages go to
 * stdout as JSON; the redaction paths apply to every line, request or not.
 */
@Injectable()
export class AppLogger implements LoggerService {
  readonly root: Logger;
  private readonly http: HttpLogger;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.root = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
    this.http = pinoHttp({
      logger: this.root,
      serializers: {
        req: (req: { id: unknown; method: string; url: string; raw?: { params?: Record<string, unknown> } }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url, req.raw?.params),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: requestLogLevel,
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
    });
  }

  /** Express middleware: the request's log line, and its logger for everything logged while it is served. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    this.http(req, res);
    requestScope.run(req.log, next);
  };

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes the logger's context (the class name) as the last argument. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    const logger = requestScope.getStore() ?? this.root;
    const fields: Record<string, unknown> = {};
    const rest = params.slice(0, -1);
    if (params.length) fields.context = params[params.length - 1];
    if (message instanceof Error) {
      logger[level]({ ...fields, err: message }, ...(rest as []));
    } else if (typeof message === 'object' && message !== null) {
      logger[level]({ ...fields, ...message }, ...(rest as []));
    } else if (level === 'error' && rest.length === 1 && typeof rest[0] === 'string' && STACK.test(rest[0])) {
      const err = new Error(String(message));
      err.stack = rest[0];
      logger[level]({ ...fields, err });
    } else {
      logger[level](fields, String(message), ...(rest as []));
    }
  }
}
