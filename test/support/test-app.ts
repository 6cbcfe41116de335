import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp } from '../../src/app.factory.js';
import { type AppConfig, loadConfig } from '../../src/config/app-config.js';
import { OperatorsService } from '../../src/operators/operators.service.js';
import type { OperatorRole } from '../../src/generated/prisma/enums.js';
import { PrismaService } from '../../src/prisma/prisma.service.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  config: AppConfig;
  db: TestDatabase;
  prisma: PrismaService;
  get<T>(type: new (...args: never[]) => T): T;
  /** Creates an operator of the role and returns its bearer token. */
  operatorToken(role: OperatorRole): Promise<string>;
  close(): Promise<void>;
}

/** The real HTTP app on a fresh database, its own queue prefix and (optionally) a test SMTP server. */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    QUEUE_PREFIX: `test-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...env,
  });
  const app = await createHttpApp(config);
  await app.listen(config.http.port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  let operators = 0;
  return {
    app,
    config,
    db,
    baseUrl: `http://127.0.0.1:${address.port}`,
    prisma: app.get(PrismaService),
    get: (type) => app.get(type),
    async operatorToken(role) {
      operators += 1;
      return (await app.get(OperatorsService).create(`${role}${operators}`, role, 'test')).token;
    },
    async close() {
      await app.close();
      await db.drop();
    },
  };
}
