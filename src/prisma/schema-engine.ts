import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PROJECT_ROOT } from '../config/project-root.js';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as wasmBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm';

// Prisma's native schema engine cannot be downloaded on our machines, so migrations run through
// Prisma's own Wasm schema engine over the pg driver adapter. It writes the same
// `_prisma_migrations` table as `prisma migrate deploy`, which therefore still works elsewhere.

export const SCHEMA_PATH = path.join(PROJECT_ROOT, 'prisma/schema.prisma');
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma/migrations');

let wasmReady: Promise<void> | undefined;

function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const bindingsUrl = import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(fileURLToPath(bindingsUrl.replace(/\.js$/, '.wasm')));
    // The engine arms internal timeouts that would otherwise hold a finished CLI process open for seconds.
    const imports: Record<string, unknown> = { ...wasmBindings };
    for (const name of Object.keys(imports).filter((n) => n.startsWith('__wbg_setTimeout_'))) {
      imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
    }
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': imports as never });
    wasmBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return wasmReady;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

type QueryFn = (...args: unknown[]) => Promise<pg.QueryResult>;

function reportCharAsText(query: QueryFn): QueryFn {
  return async (...args) => {
    const result = await query(...args);
    for (const part of Array.isArray(result) ? result : [result]) {
      for (const field of part?.fields ?? []) if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    return result;
  };
}

/**
 * The schema engine's catalogue queries return Postgres' internal "char" type, which the pg driver
 * adapter refuses; its values arrive as plain strings, so reporting them as text is exact.
 */
class CharAsTextPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super(config);
    this.query = reportCharAsText(this.query.bind(this) as QueryFn) as never;
    this.on('connect', (client) => {
      client.query = reportCharAsText(client.query.bind(client) as QueryFn) as never;
    });
  }
}

export async function withSchemaEngine<T>(
  databaseUrl: string,
  work: (engine: SchemaEngine, schema: { path: string; content: string }) => Promise<T>,
): Promise<T> {
  await loadWasm();
  const content = await readFile(SCHEMA_PATH, 'utf8');
  const pool = new CharAsTextPool({ connectionString: databaseUrl });
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool));
  const engine = await (wasmBindings.SchemaEngine as unknown as typeof SchemaEngine).new(
    { datamodels: [[SCHEMA_PATH, content]] },
    () => undefined,
    adapter,
  );
  try {
    return await work(engine, { path: SCHEMA_PATH, content });
  } finally {
    engine.free();
    // The engine does not close its adapter; an open pool would keep the process alive for its idle timeout.
    if (!pool.ended) await pool.end();
  }
}

export async function loadMigrationList(): Promise<MigrationList> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true }).catch(() => []);
  const directories = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const lockPath = path.join(MIGRATIONS_DIR, 'migration_lock.toml');
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: { path: 'migration_lock.toml', content: await readFile(lockPath, 'utf8').catch(() => null) },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      directories.map(async (dir) => ({
        path: dir,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(path.join(MIGRATIONS_DIR, dir, 'migration.sql'), 'utf8')
            .then((sql) => ({ tag: 'ok' as const, value: sql }))
            .catch((err: Error) => ({ tag: 'error' as const, value: err.message })),
        },
      })),
    ),
  };
}
