import pg from 'pg';
import { Redis } from 'ioredis';
import type { AppConfig } from './config/app-config.js';
import { prepareDatabase } from './prisma/migrations.js';

/** Thrown with one line a newcomer can act on; main prints it without a stack trace. */
export class StartupError extends Error {}

function masked(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function checkPostgres(url: string): Promise<void> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (err) {
    throw new StartupError(
      `cannot reach PostgreSQL at ${masked(url)} (${(err as Error).message || (err as NodeJS.ErrnoException).code}); ` +
        'start it with "docker compose up -d postgres" or your distribution\'s package (e.g. "pg_ctlcluster 15 main start"), or set DATABASE_URL',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new StartupError(
      `cannot reach Redis at ${masked(url)} (${(err as Error).message}); ` +
        'start it with "docker compose up -d redis" or your distribution\'s package (e.g. "redis-server --daemonize yes"), or set REDIS_URL',
    );
  } finally {
    redis.disconnect();
  }
}

/** Checks both stores, creates the database when missing and applies pending migrations. */
export async function preflight(config: AppConfig): Promise<{ createdDatabase: boolean; appliedMigrations: string[] }> {
  await Promise.all([checkPostgres(config.database.url), checkRedis(config.redis.url)]);
  return prepareDatabase(config.database.url);
}
