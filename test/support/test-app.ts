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
/**
 * Tests stand behind a reverse proxy on loopback (TRUST_PROXY=loopback): a client address is picked with X-Forwarded-For.
 * Pass `TRUST_PROXY: undefined` for the production default, which trusts no proxy.
 */
export async function createTestApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    QUEUE_PREFIX: `test-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    TRUST_PROXY: 'loopback',
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
