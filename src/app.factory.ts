import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { BodylessRoutesInterceptor } from './common/bodyless-routes.interceptor.js';
import { mountApiDocs, mountQueueBoard } from './operators/operator-tools.js';
import { TEMPLATES_DIR } from './templates/templates.service.js';
import path from 'node:path';
import type { AppConfig } from './config/app-config.js';

export const JSON_BODY_LIMIT = '64kb';

/** Builds the HTTP application exactly as production runs it; tests use the same function. */
export async function createHttpApp(config: AppConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.set('trust proxy', 'loopback');
  app.disable('x-powered-by');
  // Every dynamic answer here is per request (counters, CSRF tokens) and mostly no-store: hashing each body for an
  // ETag no client revalidates costs CPU on every dashboard poll. Static assets keep serve-static's own ETag.
  app.set('etag', false);
  app.use(helmet({ contentSecurityPolicy: { directives: { 'form-action': ["'self'"] } } }));
  app.useStaticAssets(path.join(TEMPLATES_DIR, 'assets'), { prefix: '/assets/', index: false });
  app.use(cookieParser());
  app.use(express.json({ limit: JSON_BODY_LIMIT }));
  app.use(express.urlencoded({ extended: false, limit: JSON_BODY_LIMIT }));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.useGlobalInterceptors(new BodylessRoutesInterceptor());
  mountApiDocs(app);
  mountQueueBoard(app);
  app.enableShutdownHooks();
  return app;
}
