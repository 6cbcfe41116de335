import { randomBytes } from 'node:crypto';
import { applyMigrations, dropDatabase, ensureDatabase } from '../../src/prisma/migrations.js';

export const TEST_SERVER_URL = process.env.TEST_DATABASE_SERVER ?? 'postgresql://postgres@127.0.0.1:5432';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A freshly migrated database of its own for one test file, so runs never interfere. */
export async function createTestDatabase(migrate = true): Promise<TestDatabase> {
  const url = `${TEST_SERVER_URL}/ro_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(url);
  if (migrate) await applyMigrations(url);
  return { url, drop: () => dropDatabase(url) };
}
