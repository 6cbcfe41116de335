import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR, loadMigrationList, withSchemaEngine } from './schema-engine.js';

const NO_FILTER = { externalTables: [], externalEnums: [] };

function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
}

function maintenanceUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  return url.toString();
}

async function withMaintenanceClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: maintenanceUrl(databaseUrl), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in the URL when it does not exist yet. Returns true when it was created. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = databaseName(databaseUrl);
  return withMaintenanceClient(databaseUrl, async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  });
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  await withMaintenanceClient(databaseUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  );
}

/** Migration directories the database has not recorded as applied (all of them when it has no history table). */
async function pendingMigrations(databaseUrl: string, names: string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT migration_name AS name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Set(rows.map((r) => r.name));
    return names.filter((n) => !applied.has(n));
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return names;
    throw err;
  } finally {
    await client.end();
  }
}

/** Applies every migration under prisma/migrations that the database has not seen yet. */
export async function applyMigrations(databaseUrl: string): Promise<string[]> {
  const migrationsList = await loadMigrationList();
  // Starting the schema engine costs time and memory; a current database does not need it.
  const names = migrationsList.migrationDirectories.map((d) => d.path);
  if (!(await pendingMigrations(databaseUrl, names)).length) return [];
  return withSchemaEngine(databaseUrl, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
    return result.appliedMigrationNames;
  });
}

/**
 * Creates the database when missing and applies pending migrations, one process at a time: an API and its workers
 * starting together on a new database would otherwise race to create it and to apply the same migrations. The lock
 * is taken in the maintenance database, which exists before the service's own does.
 */
export async function prepareDatabase(databaseUrl: string): Promise<{ createdDatabase: boolean; appliedMigrations: string[] }> {
  return withMaintenanceClient(databaseUrl, async (client) => {
    // Ending the client releases the lock too, so a start-up that dies here never leaves it held.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`reset-orchestrator:prepare:${databaseName(databaseUrl)}`]);
    const createdDatabase = await ensureDatabase(databaseUrl);
    const appliedMigrations = await applyMigrations(databaseUrl);
    return { createdDatabase, appliedMigrations };
  });
}

/** SQL that would bring the live database to schema.prisma; empty when they agree. */
export async function diffDatabaseToSchema(databaseUrl: string): Promise<string> {
  return withSchemaEngine(databaseUrl, async (engine, schema) => {
    const result = await engine.diff({
      // "schemaDatasource" is the live database behind the driver adapter.
      from: { tag: 'schemaDatasource', files: [schema], configDir: path.dirname(schema.path) },
      to: { tag: 'schemaDatamodel', files: [schema] },
      script: true,
      exitCode: null,
      filters: NO_FILTER,
    });
    return (result.stdout ?? '').replace(/^-- This is an empty migration\.\s*$/m, '').trim();
  });
}

/**
 * Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the existing
 * migrations to schema.prisma. The existing migrations are replayed into a scratch database, so the
 * configured database is never touched.
 */
export async function createMigration(databaseUrl: string, name: string): Promise<string | null> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error('migration name must be lower-case letters, digits and _');
  const scratch = new URL(databaseUrl);
  scratch.pathname = `/reset_orchestrator_migration_${process.pid}`;
  const scratchUrl = scratch.toString();
  await dropDatabase(scratchUrl);
  await ensureDatabase(scratchUrl);
  try {
    await applyMigrations(scratchUrl);
    const sql = await diffDatabaseToSchema(scratchUrl);
    if (!sql) return null;
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(MIGRATIONS_DIR, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'migration.sql'), `${sql}\n`);
    await writeFile(
      path.join(MIGRATIONS_DIR, 'migration_lock.toml'),
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
    );
    return dir;
  } finally {
    await dropDatabase(scratchUrl);
  }
}
