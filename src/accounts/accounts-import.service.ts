import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { type AccountRecord, OPTIONAL_COLUMNS, PASSWORD_COLUMNS, REQUIRED_COLUMNS, parseAccountRecord } from './import/account-record.js';
import { ImportFileError } from './import/import-file-error.js';
import { type ImportFormat, type RawRow, readImportFile } from './import/import-reader.js';
import { SeenFilter } from './import/seen-filter.js';

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

const MAX_LISTED_REJECTIONS = 1000;
const KNOWN_KEYS = new Set<string>([...REQUIRED_COLUMNS, ...PASSWORD_COLUMNS, ...OPTIONAL_COLUMNS]);

// Session-local: the staging rows live only as long as this import's connection, and hold no plaintext
// password (those are hashed before they are staged).
const CREATE_STAGING = `
DROP TABLE IF EXISTS import_staging, import_duplicates;
CREATE TEMP TABLE import_staging (
  line int NOT NULL, username text NOT NULL, email text, email_verified boolean NOT NULL, display_name text,
  org_unit text, locale text NOT NULL, policy_preset "PolicyPreset", password_hash text, maybe_duplicate boolean NOT NULL);
CREATE TEMP TABLE import_duplicates (line int NOT NULL, username text NOT NULL, first_line int NOT NULL)`;
const COPY_STAGING = `COPY import_staging (line, username, email, email_verified, display_name, org_unit, locale, policy_preset,
  password_hash, maybe_duplicate) FROM STDIN`;

// Only usernames the filter flagged can be duplicates; the first line of each stays, every later one is rejected.
const FIND_DUPLICATES = `
INSERT INTO import_duplicates (line, username, first_line)
SELECT line, username, first_line
FROM (SELECT s.line, s.username, min(s.line) OVER (PARTITION BY s.username) AS first_line
      FROM import_staging s
      WHERE s.username IN (SELECT username FROM import_staging WHERE maybe_duplicate)) d
WHERE line <> first_line`;

// Accounts are only ever created by an import or the demo seed, and both hold this lock while they write, so
// the plain INSERT below never meets a username another session added in the meantime.
export const ACCOUNT_WRITERS_LOCK = `SELECT pg_advisory_xact_lock(hashtext('accounts_import'))`;

// Existing accounts whose imported fields differ; unchanged rows are not rewritten (nor locked).
const UPDATE_SQL = `
UPDATE accounts a SET
  email = s.email,
  email_verified = s.email_verified,
  display_name = s.display_name,
  org_unit = s.org_unit,
  locale = s.locale,
  policy_preset = CASE WHEN $1::boolean THEN COALESCE(s.policy_preset, 'nist') ELSE a.policy_preset END,
  password_hash = COALESCE(s.password_hash, a.password_hash),
  password_changed_at = CASE WHEN s.password_hash IS DISTINCT FROM a.password_hash AND s.password_hash IS NOT NULL
                             THEN now() ELSE a.password_changed_at END,
  updated_at = now()
FROM import_staging s
WHERE a.username = s.username
  AND NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.line = s.line)
  AND (a.email, a.email_verified, a.display_name, a.org_unit, a.locale, a.policy_preset, a.password_hash)
    IS DISTINCT FROM
      (s.email, s.email_verified, s.display_name, s.org_unit, s.locale,
       CASE WHEN $1::boolean THEN COALESCE(s.policy_preset, 'nist') ELSE a.policy_preset END,
       COALESCE(s.password_hash, a.password_hash))`;

// New accounts, as a plain INSERT: ON CONFLICT's speculative insertion costs about half as much again per row.
const INSERT_SQL = `
INSERT INTO accounts (username, email, email_verified, display_name, org_unit, locale, policy_preset,
                      password_hash, password_changed_at, updated_at)
SELECT s.username, s.email, s.email_verified, s.display_name, s.org_unit, s.locale, COALESCE(s.policy_preset, 'nist'),
       s.password_hash, CASE WHEN s.password_hash IS NULL THEN NULL ELSE now() END, now()
FROM import_staging s
WHERE NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.line = s.line)
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.username = s.username)`;

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A free-text cell in COPY's text format. */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : value;
}

/** A cell whose validation already rules out backslashes and line breaks (username, email, locale, preset, hash). */
function copyPlain(value: string | null): string {
  return value ?? '\\N';
}

interface StagingPass {
  staged: number;
  hasPresetColumn: boolean;
  maybeDuplicates: number;
}

/**
 * Imports accounts from CSV or NDJSON in one streaming pass and a few set-based statements.
 * The file is read and validated in Node (see parseAccountRecord, the one rule set) while PostgreSQL
 * takes the valid rows into a session-local staging table through COPY; duplicate usernames are then
 * confirmed in SQL, and only when the whole file has been read and accepted are the rows written,
 * in one transaction (changed accounts updated, new ones inserted). A broken file is refused before any
 * account row is written.
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
    const summary: ImportSummary = { rows: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, rejections: [] };
    const client = await this.prisma.pool.connect();
    let reusable = false;
    try {
      await client.query(CREATE_STAGING);
      const pass = await this.stage(client, filePath, format, summary);
      if (summary.rows === 0) throw new ImportFileError('the file has no account rows');
      if (pass.maybeDuplicates) await this.rejectDuplicates(client, summary);
      await this.upsert(client, pass, summary);
      summary.unchanged = summary.rows - summary.rejected - summary.created - summary.updated;
      await client.query('DROP TABLE import_staging, import_duplicates');
      reusable = true;
    } finally {
      // A connection left mid-COPY or holding staging rows is closed rather than handed back to the pool.
      client.release(!reusable);
    }
    this.logger.log({ msg: 'accounts imported', ...summary, rejections: undefined });
    return summary;
  }

  /** Reads and validates the whole file, streaming the valid rows into the staging table. */
  private async stage(client: pg.PoolClient, filePath: string, format: ImportFormat, summary: ImportSummary): Promise<StagingPass> {
    const pass: StagingPass = { staged: 0, hasPresetColumn: false, maybeDuplicates: 0 };
    const seen = new SeenFilter();
    const reject = (line: number, reason: string) => {
      summary.rejected += 1;
      if (summary.rejections.length < MAX_LISTED_REJECTIONS) summary.rejections.push({ line, reason });
    };
    const self = this;
    async function* copyLines(): AsyncGenerator<string> {
      for await (const rows of readImportFile(filePath, format, self.config.imports)) {
        summary.rows += rows.length;
        const valid: { line: number; record: AccountRecord }[] = [];
        for (const row of rows) {
          const result = self.toRecord(row.cells);
          if (!result.ok) {
            reject(row.line, result.reason);
            continue;
          }
          if ('policyPreset' in row.cells) pass.hasPresetColumn = true;
          valid.push({ line: row.line, record: result.record });
        }
        if (!valid.length) continue;
        const hashes = await self.hashPasswords(valid.map((v) => v.record));
        let text = '';
        for (let i = 0; i < valid.length; i++) {
          const { line, record: r } = valid[i];
          const maybeDuplicate = seen.add(r.username);
          if (maybeDuplicate) pass.maybeDuplicates += 1;
          text +=
            `${line}\t${r.username}\t${copyPlain(r.email)}\t${r.emailVerified ? 't' : 'f'}\t${copyText(r.displayName)}\t` +
            `${copyText(r.orgUnit)}\t${r.locale}\t${copyPlain(r.policyPreset)}\t${copyPlain(hashes[i])}\t${maybeDuplicate ? 't' : 'f'}\n`;
        }
        pass.staged += valid.length;
        yield text;
      }
    }
    await pipeline(Readable.from(copyLines()), client.query(copyFrom(COPY_STAGING)));
    return pass;
  }

  /** Plain `password` cells (demo files) become argon2id hashes before anything reaches the database. */
  private async hashPasswords(records: AccountRecord[]): Promise<(string | null)[]> {
    if (!records.some((r) => r.password)) return records.map((r) => r.passwordHash);
    return Promise.all(records.map((r) => (r.password ? this.hasher.hash(r.password) : Promise.resolve(r.passwordHash))));
  }

  private async rejectDuplicates(client: pg.PoolClient, summary: ImportSummary): Promise<void> {
    await client.query(FIND_DUPLICATES);
    const { rows } = await client.query<ImportRejection & { total: number }>(
      `SELECT line, format('username "%s" already appears on line %s', username, first_line) AS reason, count(*) OVER ()::int AS total
       FROM import_duplicates ORDER BY line LIMIT ${MAX_LISTED_REJECTIONS}`,
    );
    if (!rows.length) return;
    summary.rejected += rows[0].total;
    summary.rejections = [...summary.rejections, ...rows.map(({ line, reason }) => ({ line, reason }))]
      .sort((a, b) => a.line - b.line)
      .slice(0, MAX_LISTED_REJECTIONS);
  }

  /** Writes the accepted rows in one transaction: the whole file's changes land together or not at all. */
  private async upsert(client: pg.PoolClient, pass: StagingPass, summary: ImportSummary): Promise<void> {
    if (!pass.staged) return;
    await client.query('BEGIN');
    await client.query(ACCOUNT_WRITERS_LOCK);
    summary.updated = (await client.query(UPDATE_SQL, [pass.hasPresetColumn])).rowCount ?? 0;
    summary.created = (await client.query(INSERT_SQL)).rowCount ?? 0;
    await client.query('COMMIT');
  }

  private toRecord(cells: RawRow['cells']) {
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
}
