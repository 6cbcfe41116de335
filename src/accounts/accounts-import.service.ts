import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { type AccountRecord, OPTIONAL_COLUMNS, PASSWORD_COLUMNS, REQUIRED_COLUMNS, parseAccountRecord } from './import/account-record.js';
import { type ImportFormat, ImportFileError, readImportFile } from './import/import-reader.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';

export interface ImportRejection {
  line: number;
  reason: string;
}

export interface ImportSummary {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** The first rejections, with line numbers and reasons (all of them are counted in `rejected`). */
  rejections: ImportRejection[];
}

const BATCH_SIZE = 5000;
const MAX_LISTED_REJECTIONS = 1000;
const KNOWN_KEYS = new Set<string>([...REQUIRED_COLUMNS, ...PASSWORD_COLUMNS, ...OPTIONAL_COLUMNS]);

// One statement per batch: every column travels as one array parameter, so the batch size is not
// bound by Postgres' 32,767 bind-parameter limit. Unchanged rows are not rewritten.
const UPSERT_SQL = `
INSERT INTO accounts AS a (username, email, email_verified, display_name, org_unit, locale, policy_preset,
                           password_hash, password_changed_at, updated_at)
SELECT u, e, ev, dn, ou, lc, COALESCE(pp, 'nist')::"PolicyPreset", ph, CASE WHEN ph IS NULL THEN NULL ELSE now() END, now()
FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     AS t(u, e, ev, dn, ou, lc, pp, ph)
ON CONFLICT (username) DO UPDATE SET
  email = EXCLUDED.email,
  email_verified = EXCLUDED.email_verified,
  display_name = EXCLUDED.display_name,
  org_unit = EXCLUDED.org_unit,
  locale = EXCLUDED.locale,
  policy_preset = CASE WHEN $9::boolean THEN EXCLUDED.policy_preset ELSE a.policy_preset END,
  password_hash = COALESCE(EXCLUDED.password_hash, a.password_hash),
  password_changed_at = CASE WHEN EXCLUDED.password_hash IS DISTINCT FROM a.password_hash AND EXCLUDED.password_hash IS NOT NULL
                             THEN now() ELSE a.password_changed_at END,
  updated_at = now()
WHERE (a.email, a.email_verified, a.display_name, a.org_unit, a.locale, a.policy_preset, a.password_hash)
  IS DISTINCT FROM
      (EXCLUDED.email, EXCLUDED.email_verified, EXCLUDED.display_name, EXCLUDED.org_unit, EXCLUDED.locale,
       CASE WHEN $9::boolean THEN EXCLUDED.policy_preset ELSE a.policy_preset END,
       COALESCE(EXCLUDED.password_hash, a.password_hash))
RETURNING (xmax = 0) AS inserted`;

/**
 * Imports accounts from CSV or NDJSON in two streaming passes: the first validates every line and
 * refuses a broken file before anything is written; the second upserts the valid rows in batches,
 * each batch one statement in its own transaction.
 */
@Injectable()
export class AccountsImportService {
  private readonly logger = new Logger(AccountsImportService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async importFile(filePath: string, format: ImportFormat): Promise<ImportSummary> {
    const limits = this.config.imports;
    const rejectedLines = new Set<number>();
    const summary: ImportSummary = { rows: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, rejections: [] };
    const reject = (line: number, reason: string) => {
      rejectedLines.add(line);
      summary.rejected += 1;
      if (summary.rejections.length < MAX_LISTED_REJECTIONS) summary.rejections.push({ line, reason });
    };

    // Pass 1: validate everything; duplicates are rejected on every line after the first.
    const firstLineOf = new Map<string, number>();
    let hasPresetColumn = false;
    for await (const row of readImportFile(filePath, format, limits)) {
      summary.rows += 1;
      const result = this.toRecord(row.cells);
      if (!result.ok) {
        reject(row.line, result.reason);
        continue;
      }
      if ('policyPreset' in row.cells) hasPresetColumn = true;
      const first = firstLineOf.get(result.record.username);
      if (first !== undefined) reject(row.line, `username "${result.record.username}" already appears on line ${first}`);
      else firstLineOf.set(result.record.username, row.line);
    }
    firstLineOf.clear();
    if (summary.rows === 0) throw new ImportFileError('the file has no account rows');

    // Pass 2: write the valid rows.
    let batch: AccountRecord[] = [];
    for await (const row of readImportFile(filePath, format, limits)) {
      if (rejectedLines.has(row.line)) continue;
      const result = this.toRecord(row.cells);
      if (!result.ok) continue;
      batch.push(result.record);
      if (batch.length >= BATCH_SIZE) {
        await this.writeBatch(batch, hasPresetColumn, summary);
        batch = [];
      }
    }
    if (batch.length) await this.writeBatch(batch, hasPresetColumn, summary);
    summary.unchanged = summary.rows - summary.rejected - summary.created - summary.updated;
    this.logger.log({ msg: 'accounts imported', ...summary, rejections: undefined });
    return summary;
  }

  private toRecord(cells: Record<string, unknown> | { error: string }) {
    if ('error' in cells && typeof cells.error === 'string' && Object.keys(cells).length === 1) {
      return { ok: false as const, reason: cells.error };
    }
    const unknown = Object.keys(cells).filter((k) => !KNOWN_KEYS.has(k));
    if (unknown.length) return { ok: false as const, reason: `unknown field ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}` };
    if ('password' in cells && 'passwordHash' in cells && cells.password && cells.passwordHash) {
      return { ok: false as const, reason: 'give either password or passwordHash, not both' };
    }
    return parseAccountRecord(cells);
  }

  private async writeBatch(batch: AccountRecord[], hasPresetColumn: boolean, summary: ImportSummary): Promise<void> {
    const hashes = await Promise.all(
      batch.map((r) => (r.password ? this.hasher.hash(r.password) : Promise.resolve(r.passwordHash))),
    );
    const { rows } = await this.prisma.pool.query<{ inserted: boolean }>(UPSERT_SQL, [
      batch.map((r) => r.username),
      batch.map((r) => r.email),
      batch.map((r) => r.emailVerified),
      batch.map((r) => r.displayName),
      batch.map((r) => r.orgUnit),
      batch.map((r) => r.locale),
      batch.map((r) => r.policyPreset),
      hashes,
      hasPresetColumn,
    ]);
    for (const row of rows) {
      if (row.inserted) summary.created += 1;
      else summary.updated += 1;
    }
  }
}
