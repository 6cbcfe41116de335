import { type WriteStream, createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { AuditService } from '../audit/audit.service.js';
import { csvRow } from '../common/csv.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { prismaRunner, revokeAccountAccess } from '../passwords/access-revocation.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { usernameSkeleton } from './identity.js';
import { type AccountRecord, OPTIONAL_COLUMNS, PASSWORD_COLUMNS, PLAINTEXT_REFUSED, REQUIRED_COLUMNS, type RecordDefaults, parseAccountRecord } from './import/account-record.js';
import { ImportFileError } from './import/import-file-error.js';
import { type ImportFormat, type RawRow, readImportFile } from './import/import-reader.js';
import { parseFieldMap } from './import/presets.js';
import { SeenFilter } from './import/seen-filter.js';

export interface ImportLine {
  line: number;
  reason: string;
}
export interface ImportOptions {
  format: ImportFormat;
  /** `--map` for a CSV export of its own shape: `username=login,displayName='{firstName} {lastName}'`. */
  map?: string;
  /** `--email-verified`: what a source without an emailVerified field means. Never assumed. */
  emailVerified?: 'all' | 'none';
  /** `--update-credentials` (admins only): apply changed hashes, emails and emailVerified to existing accounts. */
  updateCredentials?: boolean;
  /** `--allow-plaintext`: accept the plain `password` column (demo data; refused in production). */
  allowPlaintext?: boolean;
}

export interface ImportSummary {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** Every rejected line with its reason, up to 1,000; past that, `rejectionsFile` lists every one. */
  rejections: ImportLine[];
  rejectionsNotListed?: number;
  rejectionsFile?: string;
  /** Lines whose credential changes (hash, email, emailVerified) were not applied, and why. */
  kept: number;
  keptChanges: ImportLine[];
  /** Existing accounts whose credentials this import changed (with --update-credentials). */
  credentialsUpdated: number;
  /** Accounts of this file that are disabled: never flagged, never notified. */
  disabled: number;
  /** Accounts of this file with no password hash, application or directory DN: they can never reach the pre-reset page. */
  cannotSignIn: number;
  /** Per-line remarks: entries imported as disabled, usernames that look like another one. */
  warnings: ImportLine[];
  warningsNotListed: number;
}

const MAX_LISTED = 1000;
const CREDENTIAL_BATCH = 500;
const KNOWN_KEYS = new Set<string>([...REQUIRED_COLUMNS, ...PASSWORD_COLUMNS, ...OPTIONAL_COLUMNS]);

// Session-local: these rows live only as long as this import's connection, and hold no plaintext password (those
// are hashed before they are staged). import_lines has every valid line (for duplicates and lookalikes);
// import_staging only the rows that may be an existing account or a repeat, merged set-based at the end.
const CREATE_STAGING = `
DROP TABLE IF EXISTS import_lines, import_staging, import_duplicates, import_credentials;
CREATE TEMP TABLE import_lines (line int NOT NULL, username text NOT NULL, skeleton text, maybe_duplicate boolean NOT NULL);
CREATE TEMP TABLE import_staging (
  line int NOT NULL, username text NOT NULL, email text, email_verified boolean NOT NULL, display_name text,
  org_unit text, locale text NOT NULL, policy_preset "PolicyPreset", password_hash text, external_id text, disabled boolean);
CREATE TEMP TABLE import_duplicates (line int NOT NULL, username text NOT NULL, first_line int NOT NULL);
CREATE TEMP TABLE import_credentials (
  line int NOT NULL, account_id int NOT NULL, new_hash text, new_email text, new_verified boolean NOT NULL,
  hash_differs boolean NOT NULL, email_differs boolean NOT NULL, verified_differs boolean NOT NULL,
  changed_here boolean NOT NULL, profile_differs boolean NOT NULL)`;
const COPY_LINES = `COPY import_lines (line, username, skeleton, maybe_duplicate) FROM STDIN`;
const COPY_STAGING = `COPY import_staging (line, username, email, email_verified, display_name, org_unit, locale, policy_preset,
  password_hash, external_id, disabled) FROM STDIN`;
// Rows that are certainly new accounts go straight into accounts, inside the import's transaction.
const COPY_ACCOUNTS = `COPY accounts (username, email, email_verified, display_name, org_unit, locale, policy_preset,
  password_hash, password_changed_at, external_id, disabled) FROM STDIN`;
const EXISTING_USERNAMES = `COPY (SELECT username, disabled FROM accounts) TO STDOUT`;
// Valid rows per flush (one COPY per table): at 20,000 the text held for two flushes made GC twice as costly.
const FLUSH_ROWS = 2_000;

// Only usernames the filter flagged can be duplicates; the first line of each stays, every later one is rejected.
const FIND_DUPLICATES = `
INSERT INTO import_duplicates (line, username, first_line)
SELECT line, username, first_line
FROM (SELECT s.line, s.username, min(s.line) OVER (PARTITION BY s.username) AS first_line
      FROM import_lines s
      WHERE s.username IN (SELECT username FROM import_lines WHERE maybe_duplicate)) d
WHERE line <> first_line`;

const NOT_DUPLICATE = `NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.line = s.line)`;

// Accounts are only ever created by an import or the demo seed, and both hold this lock while they write, so
// the plain INSERT below never meets a username another session added in the meantime.
export const ACCOUNT_WRITERS_LOCK = `SELECT pg_advisory_xact_lock(hashtext('accounts_import'))`;

// The profile fields an import may always change: $1 says whether the file carries policyPreset.
const IMPORTED_PROFILE = `(s.display_name, s.org_unit, s.locale, CASE WHEN $1::boolean THEN COALESCE(s.policy_preset, 'nist') ELSE a.policy_preset END,
  COALESCE(s.external_id, a.external_id), COALESCE(s.disabled, a.disabled))`;
const PROFILE_DIFFERS = `(a.display_name, a.org_unit, a.locale, a.policy_preset, a.external_id, a.disabled) IS DISTINCT FROM ${IMPORTED_PROFILE}`;

// Existing accounts whose profile differs; unchanged rows are not rewritten (nor locked). Credentials (hash, email,
// emailVerified) are never touched here: see FIND_CREDENTIAL_CHANGES.
const UPDATE_SQL = `
UPDATE accounts a SET (display_name, org_unit, locale, policy_preset, external_id, disabled) = ${IMPORTED_PROFILE}, updated_at = now()
FROM import_staging s
WHERE a.username = s.username AND ${NOT_DUPLICATE} AND ${PROFILE_DIFFERS}`;

// Credential differences of existing accounts. An account whose current hash is in its own password history set
// that password here (a reset, a temporary password): an imported hash never replaces it.
const FIND_CREDENTIAL_CHANGES = `
INSERT INTO import_credentials
SELECT s.line, a.id, s.password_hash, s.email, s.email_verified,
       s.password_hash IS NOT NULL AND s.password_hash IS DISTINCT FROM a.password_hash,
       s.email IS DISTINCT FROM a.email,
       s.email_verified IS DISTINCT FROM a.email_verified,
       EXISTS (SELECT 1 FROM password_history h WHERE h.account_id = a.id AND h.password_hash = a.password_hash),
       ${PROFILE_DIFFERS}
FROM import_staging s JOIN accounts a ON a.username = s.username
WHERE ${NOT_DUPLICATE}
  AND ((s.password_hash IS NOT NULL AND s.password_hash IS DISTINCT FROM a.password_hash)
       OR s.email IS DISTINCT FROM a.email OR s.email_verified IS DISTINCT FROM a.email_verified)`;

const APPLICABLE = `((hash_differs AND NOT changed_here) OR email_differs OR verified_differs)`;

// New accounts, as a plain INSERT: ON CONFLICT's speculative insertion costs about half as much again per row.
const INSERT_SQL = `
INSERT INTO accounts (username, email, email_verified, display_name, org_unit, locale, policy_preset,
                      password_hash, password_changed_at, external_id, disabled, updated_at)
SELECT s.username, s.email, s.email_verified, s.display_name, s.org_unit, s.locale, COALESCE(s.policy_preset, 'nist'),
       s.password_hash, CASE WHEN s.password_hash IS NULL THEN NULL ELSE now() END, s.external_id, COALESCE(s.disabled, false), now()
FROM import_staging s
WHERE ${NOT_DUPLICATE}
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.username = s.username)`;

// Usernames that look alike across scripts: a lookalike line against the file's other names and the accounts that
// existed before the import ($1: the highest account id then; the file's new accounts are its own lines).
const FIND_CONFUSABLES = `
SELECT x.line, x.username, o.line AS other_line, o.username AS other
FROM import_lines x JOIN import_lines o ON COALESCE(o.skeleton, o.username) = x.skeleton AND o.username <> x.username
WHERE x.skeleton IS NOT NULL
UNION ALL
SELECT x.line, x.username, NULL, a.username FROM import_lines x JOIN accounts a ON a.username = x.skeleton
WHERE x.skeleton IS NOT NULL AND a.id <= $1
ORDER BY 1 LIMIT ${MAX_LISTED + 1}`;

// Counts over the staged rows only: the rows copied straight into accounts are counted as they pass. Each scan of
// the staging table costs about a second per million rows (temporary tables live in the small temp_buffers), so
// these run only when the staging pass saw rows they could count (see reachCounts).
const CANNOT_SIGN_IN = `
SELECT count(*)::int AS n FROM import_staging s
WHERE s.password_hash IS NULL AND ${NOT_DUPLICATE}
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.username = s.username
                  AND (a.password_hash IS NOT NULL OR a.application_id IS NOT NULL OR a.directory_dn IS NOT NULL))`;
const DISABLED = `
SELECT (SELECT count(*) FROM import_staging s WHERE s.disabled AND ${NOT_DUPLICATE})::int
     + (SELECT count(*) FROM accounts a WHERE a.disabled
          AND a.username IN (SELECT s.username FROM import_staging s WHERE s.disabled IS NULL AND ${NOT_DUPLICATE}))::int AS n`;

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

/** What the import knew before it wrote: taken under the writers' lock, in the import's transaction. */
interface Before {
  /** now() of the transaction, as COPY text (password_changed_at of new accounts with a hash). */
  now: string;
  /** The highest account id: accounts above it are this import's. */
  maxId: number;
  /** Whether any account was disabled (only those can stay disabled when a row says nothing). */
  disabledBefore: boolean;
}

interface StagingPass {
  /** Rows copied straight into accounts, and of those the ones without a hash or marked disabled. */
  created: number;
  createdHashless: number;
  createdDisabled: number;
  /** Rows that may be an existing account or a repeat, merged at the end, and their counts as above. */
  staged: number;
  stagedHashless: number;
  stagedDisabled: number;
  hasPresetColumn: boolean;
  maybeDuplicates: number;
  lookalikes: number;
  /** Lines rejected as repeated usernames. */
  duplicates: number;
}

/** Up to MAX_LISTED lines in memory; with `spill`, every line goes to a private CSV file once there are more. */
class LineLog {
  count = 0;
  readonly listed: ImportLine[] = [];
  private file?: { path: string; stream: WriteStream };

  constructor(private readonly spill: boolean) {}

  add(line: number, reason: string): void {
    this.count += 1;
    if (this.listed.length < MAX_LISTED) {
      this.listed.push({ line, reason });
      return;
    }
    if (!this.spill) return;
    if (!this.file) {
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'reset-import-rejections-')), 'rejections.csv');
      this.file = { path: file, stream: createWriteStream(file, { mode: 0o600 }) };
      this.file.stream.write(csvRow(['line', 'reason']));
      for (const l of this.listed) this.file.stream.write(csvRow([l.line, l.reason]));
    }
    this.file.stream.write(csvRow([line, reason]));
  }

  /** Closes the spill file; returns its path when there is one. */
  async close(): Promise<string | undefined> {
    if (!this.file) return undefined;
    this.file.stream.end();
    await finished(this.file.stream);
    return this.file.path;
  }

  sorted(): ImportLine[] {
    return [...this.listed].sort((a, b) => a.line - b.line);
  }
}

/** One flush's COPY text for accounts, import_lines and import_staging. */
class CopyBatch {
  rows = 0;
  readonly accounts: string[] = [];
  readonly lines: string[] = [];
  readonly staging: string[] = [];

  add(rows: number, accounts: string, lines: string, staging: string): void {
    this.rows += rows;
    if (accounts) this.accounts.push(accounts);
    this.lines.push(lines);
    if (staging) this.staging.push(staging);
  }
}

interface CredentialChange {
  line: number;
  account_id: number;
  new_hash: string | null;
  new_email: string | null;
  new_verified: boolean;
  hash_differs: boolean;
  changed_here: boolean;
  profile_differs: boolean;
}

/**
 * Imports accounts in one streaming pass and a few set-based statements. Rows come from a file (the product's own
 * CSV/NDJSON columns, a `--map`ped CSV or an identity provider's export, see import-reader.ts) or from any other
 * stream of rows with the canonical field names (`importRows`). Each row is validated in Node (parseAccountRecord,
 * the one rule set) while PostgreSQL takes the valid ones into a session-local staging table through COPY;
 * duplicates are then confirmed in SQL, and only when the whole source has been read and accepted are the rows
 * written, in one transaction (changed profiles updated, new accounts inserted). A broken file writes nothing.
 *
 * An import never lowers an account's security: credentials of existing accounts (hash, email, emailVerified) are
 * only changed with `updateCredentials`, never over a password set here since, and each such change is audited per
 * account and signs the account out (applyCredentialChanges).
 */
@Injectable()
export class AccountsImportService {
  private readonly logger = new Logger(AccountsImportService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async importFile(filePath: string, options: ImportOptions, actor: string): Promise<ImportSummary> {
    const plaintextAllowed = this.plaintextAllowed(options);
    const rows = readImportFile(filePath, options.format, {
      ...this.config.imports,
      map: options.map ? parseFieldMap(options.map) : undefined,
      emailVerifiedGiven: options.emailVerified !== undefined,
      plaintextAllowed,
    });
    return this.importRows(rows, options, actor);
  }

  /** The set-based import path for any source of rows with canonical field names (see account-record.ts). */
  async importRows(rows: AsyncIterable<RawRow[]>, options: Omit<ImportOptions, 'format' | 'map'>, actor: string): Promise<ImportSummary> {
    const plaintextAllowed = this.plaintextAllowed(options);
    const defaults: RecordDefaults = { emailVerified: options.emailVerified === undefined ? undefined : options.emailVerified === 'all' };
    const rejections = new LineLog(true);
    const warnings = new LineLog(false);
    const kept = new LineLog(false);
    const summary = { rows: 0, created: 0, updated: 0, credentialsUpdated: 0, disabled: 0, cannotSignIn: 0 };
    const client = await this.prisma.pool.connect();
    let reusable = false;
    let rejectionsFile: string | undefined;
    try {
      await client.query(CREATE_STAGING);
      // One transaction from the first row to the last: the new accounts are copied in while the file is read, so a
      // file found broken on its last line rolls back with the connection and leaves nothing behind.
      await client.query('BEGIN');
      await client.query(ACCOUNT_WRITERS_LOCK);
      const existing = new SeenFilter();
      const before = await this.readBefore(client, existing);
      const pass = await this.stage(client, rows, { defaults, plaintextAllowed, existing, before }, summary, rejections, warnings);
      if (summary.rows === 0) throw new ImportFileError('the file has no account rows');
      if (pass.maybeDuplicates) pass.duplicates = await this.rejectDuplicates(client, rejections);
      if (pass.lookalikes) await this.reportLookalikes(client, before, warnings);
      await this.mergeStaged(client, pass, summary);
      await client.query('COMMIT');
      await client.query('CREATE INDEX ON import_credentials (account_id)');
      await this.reportKept(client, Boolean(options.updateCredentials), kept);
      if (options.updateCredentials) await this.applyCredentialChanges(client, actor, summary);
      Object.assign(summary, await this.reachCounts(client, pass, before));
      await client.query('DROP TABLE import_lines, import_staging, import_duplicates, import_credentials');
      reusable = true;
    } finally {
      // A connection left mid-COPY, in the transaction or holding staging rows is closed rather than handed back to
      // the pool: closing it rolls the import back.
      client.release(!reusable);
      rejectionsFile = await rejections.close();
    }
    const result: ImportSummary = {
      ...summary,
      unchanged: summary.rows - rejections.count - summary.created - summary.updated,
      rejected: rejections.count,
      rejections: rejections.sorted(),
      ...(rejectionsFile ? { rejectionsNotListed: rejections.count - rejections.listed.length, rejectionsFile } : {}),
      kept: kept.count,
      keptChanges: kept.sorted(),
      warnings: warnings.sorted(),
      warningsNotListed: warnings.count - warnings.listed.length,
    };
    this.logger.log({ msg: 'accounts imported', ...result, rejections: undefined, keptChanges: undefined, warnings: undefined });
    return result;
  }

  private plaintextAllowed(options: { allowPlaintext?: boolean }): boolean {
    if (options.allowPlaintext && this.config.env === 'production') {
      throw new ImportFileError('--allow-plaintext is refused on a production instance: import password hashes');
    }
    return Boolean(options.allowPlaintext);
  }

  /**
   * The usernames of existing accounts go into the filter, so that a row it has never seen is certainly a new
   * account: one read of the username index instead of a join per row.
   */
  private async readBefore(client: pg.PoolClient, existing: SeenFilter): Promise<Before> {
    const { rows } = await client.query<{ now: string; max_id: number }>(`SELECT now()::text AS now, COALESCE(max(id), 0) AS max_id FROM accounts`);
    let disabledBefore = false;
    let carry = '';
    for await (const chunk of client.query(copyTo(EXISTING_USERNAMES)) as AsyncIterable<Buffer>) {
      const lines = (carry + chunk.toString('utf8')).split('\n');
      carry = lines.pop()!;
      for (const line of lines) {
        existing.add(line.slice(0, -2));
        if (line.endsWith('\tt')) disabledBefore = true;
      }
    }
    return { now: rows[0].now, maxId: rows[0].max_id, disabledBefore };
  }

  /**
   * Reads and validates every row in one pass. Each valid row's line goes to import_lines; a row whose username the
   * filter has certainly not seen (neither an existing account nor an earlier line) is copied straight into
   * accounts, any other into the staging table. PostgreSQL takes one flush while Node reads and checks the next.
   */
  private async stage(
    client: pg.PoolClient,
    source: AsyncIterable<RawRow[]>,
    rules: { defaults: RecordDefaults; plaintextAllowed: boolean; existing: SeenFilter; before: Before },
    summary: { rows: number },
    rejections: LineLog,
    warnings: LineLog,
  ): Promise<StagingPass> {
    const pass: StagingPass = {
      created: 0, createdHashless: 0, createdDisabled: 0, staged: 0, stagedHashless: 0, stagedDisabled: 0,
      hasPresetColumn: false, maybeDuplicates: 0, lookalikes: 0, duplicates: 0,
    };
    const copy = async (sql: string, pieces: string[]) => {
      if (!pieces.length) return;
      const stream = client.query(copyFrom(sql));
      await pipeline(Readable.from(pieces), stream);
    };
    const flush = async (batch: CopyBatch) => {
      await copy(COPY_ACCOUNTS, batch.accounts);
      await copy(COPY_LINES, batch.lines);
      await copy(COPY_STAGING, batch.staging);
    };
    const seen = new SeenFilter();
    let batch = new CopyBatch();
    let inFlight: Promise<void> = Promise.resolve();
    for await (const rows of source) {
      summary.rows += rows.length;
      const valid: { line: number; record: AccountRecord }[] = [];
      for (const row of rows) {
        const result = this.toRecord(row.cells, rules);
        if (!result.ok) {
          rejections.add(row.line, result.reason);
          continue;
        }
        if ('policyPreset' in row.cells) pass.hasPresetColumn = true;
        for (const note of row.notes ?? []) warnings.add(row.line, note);
        valid.push({ line: row.line, record: result.record });
      }
      if (!valid.length) continue;
      const hashes = await this.hashPasswords(valid.map((v) => v.record));
      let accounts = '';
      let lines = '';
      let staging = '';
      for (let i = 0; i < valid.length; i++) {
        const { line, record: r } = valid[i];
        const hash = hashes[i];
        const maybeDuplicate = seen.add(r.username);
        if (maybeDuplicate) pass.maybeDuplicates += 1;
        const skeleton = usernameSkeleton(r.username);
        if (skeleton) pass.lookalikes += 1;
        const username = copyText(r.username);
        lines += `${line}\t${username}\t${copyText(skeleton)}\t${maybeDuplicate ? 't' : 'f'}\n`;
        if (maybeDuplicate || rules.existing.has(r.username)) {
          pass.staged += 1;
          if (!hash) pass.stagedHashless += 1;
          if (r.disabled) pass.stagedDisabled += 1;
          staging +=
            `${line}\t${username}\t${copyPlain(r.email)}\t${r.emailVerified ? 't' : 'f'}\t${copyText(r.displayName)}\t` +
            `${copyText(r.orgUnit)}\t${r.locale}\t${copyPlain(r.policyPreset)}\t${copyPlain(hash)}\t${copyText(r.externalId)}\t` +
            `${r.disabled === null ? '\\N' : r.disabled ? 't' : 'f'}\n`;
        } else {
          pass.created += 1;
          if (!hash) pass.createdHashless += 1;
          if (r.disabled) pass.createdDisabled += 1;
          accounts +=
            `${username}\t${copyPlain(r.email)}\t${r.emailVerified ? 't' : 'f'}\t${copyText(r.displayName)}\t` +
            `${copyText(r.orgUnit)}\t${r.locale}\t${r.policyPreset ?? 'nist'}\t${copyPlain(hash)}\t${hash ? rules.before.now : '\\N'}\t` +
            `${copyText(r.externalId)}\t${r.disabled ? 't' : 'f'}\n`;
        }
      }
      batch.add(valid.length, accounts, lines, staging);
      if (batch.rows >= FLUSH_ROWS) {
        await inFlight;
        inFlight = flush(batch);
        // Awaited before the next flush or at the end; a failure meanwhile must not count as unhandled.
        inFlight.catch(() => undefined);
        batch = new CopyBatch();
      }
    }
    await inFlight;
    await flush(batch);
    return pass;
  }

  /** Plain `password` cells (demo files) become argon2id hashes before anything reaches the database. */
  private async hashPasswords(records: AccountRecord[]): Promise<(string | null)[]> {
    if (!records.some((r) => r.password)) return records.map((r) => r.passwordHash);
    return Promise.all(records.map((r) => (r.password ? this.hasher.hash(r.password) : Promise.resolve(r.passwordHash))));
  }

  /** Rejects every later line of a repeated username; returns how many. */
  private async rejectDuplicates(client: pg.PoolClient, rejections: LineLog): Promise<number> {
    const found = (await client.query(FIND_DUPLICATES)).rowCount ?? 0;
    if (!found) return 0;
    await client.query('CREATE INDEX ON import_duplicates (line)');
    for (let after = 0; ; ) {
      const { rows } = await client.query<ImportLine>(
        `SELECT line, format('username "%s" already appears on line %s', username, first_line) AS reason
         FROM import_duplicates WHERE line > $1 ORDER BY line LIMIT 10000`,
        [after],
      );
      if (!rows.length) return found;
      for (const r of rows) rejections.add(r.line, r.reason);
      after = rows[rows.length - 1].line;
    }
  }

  private async reportLookalikes(client: pg.PoolClient, before: Before, warnings: LineLog): Promise<void> {
    const { rows } = await client.query<{ line: number; username: string; other_line: number | null; other: string }>(FIND_CONFUSABLES, [before.maxId]);
    for (const r of rows) {
      const where = r.other_line === null ? 'an existing account' : `line ${r.other_line}`;
      warnings.add(r.line, `username "${r.username}" looks like "${r.other}" (${where})`);
    }
  }

  /** Merges the staged rows (existing accounts, and the rows the filter could not tell apart) set-based. */
  private async mergeStaged(client: pg.PoolClient, pass: StagingPass, summary: { created: number; updated: number }): Promise<void> {
    summary.created = pass.created;
    if (!pass.staged) return;
    await client.query(FIND_CREDENTIAL_CHANGES, [pass.hasPresetColumn]);
    summary.updated = (await client.query(UPDATE_SQL, [pass.hasPresetColumn])).rowCount ?? 0;
    summary.created += (await client.query(INSERT_SQL)).rowCount ?? 0;
  }

  /** The accounts of the file that can never reach the pre-reset page, and those that are disabled. */
  private async reachCounts(client: pg.PoolClient, pass: StagingPass, before: Before): Promise<{ cannotSignIn: number; disabled: number }> {
    const count = async (sql: string) => (await client.query<{ n: number }>(sql)).rows[0].n;
    const cannotSignIn = pass.createdHashless + (pass.stagedHashless ? await count(CANNOT_SIGN_IN) : 0);
    // Without duplicates, every staged row is an account of the file, so the staging pass's count is exact.
    const stagedDisabled = pass.staged && (pass.duplicates || before.disabledBefore) ? await count(DISABLED) : pass.stagedDisabled;
    return { cannotSignIn, disabled: pass.createdDisabled + stagedDisabled };
  }

  /** Lists the credential changes this import does not apply: over a password set here since, or without the flag. */
  private async reportKept(client: pg.PoolClient, updateCredentials: boolean, kept: LineLog): Promise<void> {
    const { rows } = await client.query<CredentialChange & { email_differs: boolean; verified_differs: boolean; total: number }>(
      `SELECT *, count(*) OVER ()::int AS total FROM import_credentials WHERE (hash_differs AND changed_here) OR NOT $1::boolean
       ORDER BY line LIMIT ${MAX_LISTED}`,
      [updateCredentials],
    );
    for (const c of rows) {
      const reasons: string[] = [];
      if (c.hash_differs && c.changed_here) reasons.push('kept: password changed here since');
      const fields = updateCredentials
        ? []
        : [c.hash_differs && !c.changed_here && 'passwordHash', c.email_differs && 'email', c.verified_differs && 'emailVerified'].filter(Boolean);
      if (fields.length) reasons.push(`kept: ${fields.join(', ')} differ${fields.length > 1 ? '' : 's'}; applied only with --update-credentials`);
      kept.add(c.line, reasons.join('; '));
    }
    kept.count = rows[0]?.total ?? 0;
  }

  /**
   * Applies the credential changes of existing accounts, a batch of accounts per transaction: each account is locked
   * and checked again (a reset committed since the import's write wins), then changed, signed out everywhere with its
   * unused reset links revoked, and audited on its own (which fields changed, never their values).
   */
  private async applyCredentialChanges(client: pg.PoolClient, actor: string, summary: { updated: number; credentialsUpdated: number }): Promise<void> {
    for (let after = 0; ; ) {
      const { rows } = await client.query<CredentialChange & { email_differs: boolean; verified_differs: boolean }>(
        `SELECT * FROM import_credentials WHERE account_id > $1 AND ${APPLICABLE} ORDER BY account_id LIMIT ${CREDENTIAL_BATCH}`,
        [after],
      );
      if (!rows.length) return;
      after = rows[rows.length - 1].account_id;
      const applied = await this.prisma.$transaction(
        async (tx) => {
          const changed: { change: (typeof rows)[number]; fields: string[]; username: string }[] = [];
          for (const c of rows) {
            const [current] = await tx.$queryRaw<{ username: string; password_hash: string | null; email: string | null; email_verified: boolean }[]>`
              SELECT username, password_hash, email, email_verified FROM accounts WHERE id = ${c.account_id} FOR UPDATE`;
            if (!current) continue;
            const [{ here }] = await tx.$queryRaw<{ here: boolean }[]>`
              SELECT EXISTS (SELECT 1 FROM password_history WHERE account_id = ${c.account_id} AND password_hash = ${current.password_hash}) AS here`;
            const hash = c.new_hash !== null && c.new_hash !== current.password_hash && !here;
            const fields = [hash && 'passwordHash', c.new_email !== current.email && 'email', c.new_verified !== current.email_verified && 'emailVerified'].filter(
              (f): f is string => Boolean(f),
            );
            if (!fields.length) continue;
            await tx.$executeRaw`
              UPDATE accounts SET password_hash = CASE WHEN ${hash} THEN ${c.new_hash} ELSE password_hash END,
                password_changed_at = CASE WHEN ${hash} THEN now() ELSE password_changed_at END,
                email = ${c.new_email}, email_verified = ${c.new_verified}, updated_at = now()
              WHERE id = ${c.account_id}`;
            changed.push({ change: c, fields, username: current.username });
          }
          await revokeAccountAccess(prismaRunner(tx), changed.map((c) => c.change.account_id));
          for (const { change, fields, username } of changed) {
            await this.audit.record(tx, {
              actor,
              action: 'account.import.credentials',
              details: { accountId: change.account_id, username, line: change.line, fields, sessionsAndResetLinksRevoked: true },
            });
          }
          return changed;
        },
        { maxWait: 10_000, timeout: 120_000 },
      );
      summary.credentialsUpdated += applied.length;
      summary.updated += applied.filter((a) => !a.change.profile_differs).length;
    }
  }

  private toRecord(cells: RawRow['cells'], rules: { defaults: RecordDefaults; plaintextAllowed: boolean }) {
    if ('error' in cells && typeof cells.error === 'string' && Object.keys(cells).length === 1) {
      return { ok: false as const, reason: cells.error };
    }
    const unknown = Object.keys(cells).filter((k) => !KNOWN_KEYS.has(k));
    if (unknown.length) return { ok: false as const, reason: `unknown field ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}` };
    if ('password' in cells && 'passwordHash' in cells && cells.password && cells.passwordHash) {
      return { ok: false as const, reason: 'give either password or passwordHash, not both' };
    }
    if ('password' in cells && cells.password && !rules.plaintextAllowed) return { ok: false as const, reason: PLAINTEXT_REFUSED };
    return parseAccountRecord(cells, rules.defaults);
  }
}
