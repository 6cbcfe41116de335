import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { applyMigrations, diffDatabaseToSchema, dropDatabase } from '../../src/prisma/migrations.js';
import { preflight } from '../../src/preflight.js';
import { loadConfig } from '../../src/config/app-config.js';
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase } from '../support/test-database.js';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(false);
  });
  afterAll(() => db.drop());

  it('applying every migration to an empty database gives exactly schema.prisma', async () => {
    const applied = await applyMigrations(db.url);
    expect(applied.length).toBeGreaterThan(0);
    expect(await diffDatabaseToSchema(db.url)).toBe('');
    expect(await applyMigrations(db.url)).toEqual([]);
  });

  it('records them where `prisma migrate deploy` looks', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query('SELECT migration_name, finished_at FROM _prisma_migrations');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.finished_at)).toBe(true);
    // The drift check can fail: a column the schema does not know about shows up in the diff.
    await client.query('ALTER TABLE accounts ADD COLUMN stray text');
    await client.end();
    expect(await diffDatabaseToSchema(db.url)).toMatch(/stray/);
  });

  it('lets an API and its workers start together on a database that does not exist yet', async () => {
    const url = `${TEST_SERVER_URL}/ro_test_${process.pid}_${randomBytes(4).toString('hex')}_together`;
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url });
    try {
      const starts = await Promise.all([1, 2, 3, 4].map(() => preflight(config)));
      expect(starts.filter((s) => s.createdDatabase)).toHaveLength(1);
      expect(starts.filter((s) => s.appliedMigrations.length)).toHaveLength(1);
      expect(await diffDatabaseToSchema(url)).toBe('');
    } finally {
      await dropDatabase(url);
    }
  });
});
