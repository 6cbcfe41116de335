import { Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { AuditService } from '../../audit/audit.service.js';
import { unavailable } from '../../directory/directory-errors.js';
import { DirectoryService } from '../../directory/directory.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { ACCOUNT_WRITERS_LOCK } from '../accounts-import.service.js';
import { ImportFileError } from '../import/import-file-error.js';
import { type DirectoryRecord, directoryRecord, requestedAttributes } from './directory-entry.js';

export interface DirectorySyncSummary {
  /** Entries the search returned. */
  entries: number;
  created: number;
  changed: number;
  unchanged: number;
  /** Accounts whose entry is no longer in the directory, disabled by this sync; null when a --filter hid part of it. */
  gone: number | null;
  /** Changed accounts whose mail address changed (their outstanding reset links are revoked). */
  mailChanged: number;
  rejected: number;
  /** The first rejections, by DN. */
  rejections: { dn: string; reason: string }[];
}

const PAGE_SIZE = 1000;
const MAX_LISTED_REJECTIONS = 1000;

// Session-local, like the file import's staging table. Entries carry no password: a directory never hands one out.
const CREATE_STAGING = `
DROP TABLE IF EXISTS directory_staging;
CREATE TEMP TABLE directory_staging (
  dn text NOT NULL, username text NOT NULL, email text, display_name text, org_unit text, locale text NOT NULL,
  disabled boolean NOT NULL, account_id int, rejected text)`;
// One statement per page of PAGE_SIZE entries: seven array parameters, whatever the page size. Each entry finds its
// account by DN here, one probe of the unique index each, so a re-sync never rewrites the whole staging table to match them.
const STAGE_PAGE = `
INSERT INTO directory_staging (dn, username, email, display_name, org_unit, locale, disabled, account_id)
SELECT e.*, (SELECT a.id FROM accounts a WHERE a.directory_dn = e.dn)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[])
       AS e (dn, username, email, display_name, org_unit, locale, disabled)`;
// The index is for the anti-joins that find accounts gone from the directory: their outer side is accounts with a DN,
// which the table's statistics may not know yet (the first import inserted them in this transaction, estimated 1 row),
// and without it the planner's nested loop scanned the whole staging table per account (a 100,000-entry first import
// into 1,000,000 accounts took over 5 minutes in DISABLE_GONE; about 4 s with it).
const INDEX_STAGING = `CREATE INDEX ON directory_staging (dn); ANALYZE directory_staging`;

// Two entries with one username are ambiguous: neither may claim the account.
const REJECT_DUPLICATES = `
UPDATE directory_staging s SET rejected = format('username "%s" belongs to %s directory entries', s.username, d.n)
FROM (SELECT username, count(*) AS n FROM directory_staging GROUP BY username HAVING count(*) > 1) d
WHERE s.username = d.username`;
// Under the writers' lock: accounts another writer gave one of these DNs since the page was staged.
const MATCH_BY_DN = `
UPDATE directory_staging s SET account_id = a.id FROM accounts a WHERE s.account_id IS NULL AND a.directory_dn = s.dn`;
// An entry renamed or moved in the directory keeps its account: same username, and its old DN is in no entry any more.
// Only a full sync can tell that a DN is gone.
const MATCH_MOVED = `
UPDATE directory_staging s SET account_id = a.id FROM accounts a
WHERE s.account_id IS NULL AND s.rejected IS NULL AND a.username = s.username AND a.directory_dn IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM directory_staging o WHERE o.dn = a.directory_dn)`;
// A username this product already has for another account is never taken over: that account's password would move.
const REJECT_TAKEN = `
UPDATE directory_staging s SET rejected = CASE
    WHEN a.directory_dn IS NULL THEN format('username "%s" belongs to an account that does not sign in through the directory', s.username)
    ELSE format('username "%s" belongs to the account of the directory entry %s', s.username, a.directory_dn) END
FROM accounts a
WHERE s.rejected IS NULL AND a.username = s.username AND a.id IS DISTINCT FROM s.account_id`;
const MAIL_CHANGES = `
CREATE TEMP TABLE directory_mail_changes ON COMMIT DROP AS
SELECT a.id FROM accounts a JOIN directory_staging s ON s.account_id = a.id
WHERE s.rejected IS NULL AND a.email IS DISTINCT FROM s.email`;
// A link mailed to the old address must not outlive the address.
const REVOKE_LINKS_TO_OLD_MAIL = `
UPDATE reset_tokens t SET revoked_at = now() FROM directory_mail_changes c
WHERE t.account_id = c.id AND t.used_at IS NULL AND t.revoked_at IS NULL`;
// Never password_hash: a directory account has none, and the sync never gives it one.
const UPDATE_CHANGED = `
UPDATE accounts a SET directory_dn = s.dn, username = s.username, email = s.email, email_verified = s.email IS NOT NULL,
  display_name = s.display_name, org_unit = s.org_unit, locale = s.locale, disabled = s.disabled, updated_at = now()
FROM directory_staging s
WHERE s.account_id = a.id AND s.rejected IS NULL
  AND (a.directory_dn, a.username, a.email, a.email_verified, a.display_name, a.org_unit, a.locale, a.disabled)
    IS DISTINCT FROM (s.dn, s.username, s.email, s.email IS NOT NULL, s.display_name, s.org_unit, s.locale, s.disabled)`;
const INSERT_NEW = `
INSERT INTO accounts (username, email, email_verified, display_name, org_unit, locale, directory_dn, disabled, updated_at)
SELECT s.username, s.email, s.email IS NOT NULL, s.display_name, s.org_unit, s.locale, s.dn, s.disabled, now()
FROM directory_staging s WHERE s.account_id IS NULL AND s.rejected IS NULL`;
// Gone from the directory: disabled (never flagged or notified again), open sessions and links revoked.
const DISABLE_GONE = `
WITH gone AS (
  UPDATE accounts a SET disabled = true, updated_at = now()
  WHERE a.directory_dn IS NOT NULL AND NOT a.disabled AND NOT EXISTS (SELECT 1 FROM directory_staging s WHERE s.dn = a.directory_dn)
  RETURNING a.id),
sessions AS (UPDATE sessions x SET revoked_at = now() FROM gone WHERE x.account_id = gone.id AND x.revoked_at IS NULL),
links AS (UPDATE reset_tokens t SET revoked_at = now() FROM gone WHERE t.account_id = gone.id AND t.used_at IS NULL AND t.revoked_at IS NULL)
SELECT count(*)::int AS n FROM gone`;

/**
 * `resetctl accounts import --from-directory`: a paged search (RFC 2696) streamed page by page into a session-local
 * staging table, so memory stays at one page whatever the directory's size; then, in one transaction, the same kind of
 * set-based statements as the file import. Accounts are keyed by DN; re-running is an idempotent sync that reports
 * new, changed and gone entries. It never writes a password.
 */
@Injectable()
export class DirectorySyncService {
  private readonly logger = new Logger(DirectorySyncService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly directory: DirectoryService,
    private readonly audit: AuditService,
  ) {}

  async sync(actor: string, extraFilter?: string): Promise<DirectorySyncSummary> {
    const { baseDn, userFilter } = this.directory.settings;
    const filter = extraFilter ? `(&${userFilter}${extraFilter})` : userFilter;
    const full = !extraFilter;
    const summary: DirectorySyncSummary = { entries: 0, created: 0, changed: 0, unchanged: 0, gone: full ? 0 : null, mailChanged: 0, rejected: 0, rejections: [] };
    const client = await this.prisma.pool.connect();
    let reusable = false;
    try {
      await client.query(CREATE_STAGING);
      await this.stage(client, filter, summary);
      if (summary.entries === 0) throw new ImportFileError(`the directory has no entries matching ${filter} under ${baseDn}; nothing was changed`);
      await client.query(INDEX_STAGING);
      await this.apply(client, full, summary);
      summary.unchanged = summary.entries - summary.rejected - summary.created - summary.changed;
      await client.query('DROP TABLE directory_staging');
      reusable = true;
    } finally {
      client.release(!reusable);
    }
    const { rejections: _listed, ...counts } = summary;
    await this.audit.recordNow({ actor, action: 'accounts.directory-sync', details: { baseDn, filter, ...counts } });
    this.logger.log({ msg: 'directory synced', ...counts });
    return summary;
  }

  /** Each page is staged while the directory prepares the next one. */
  private async stage(client: pg.PoolClient, filter: string, summary: DirectorySyncSummary): Promise<void> {
    const { baseDn, attributes, kind } = this.directory.settings;
    const reject = (dn: string, reason: string) => {
      summary.rejected += 1;
      if (summary.rejections.length < MAX_LISTED_REJECTIONS) summary.rejections.push({ dn, reason });
    };
    await this.directory.asService('searching the directory', async (ldap) => {
      const pages = ldap.searchPaginated(baseDn, { scope: 'sub', filter, attributes: requestedAttributes(attributes, kind), paged: { pageSize: PAGE_SIZE } });
      const fetch = () => {
        const page = pages.next();
        page.catch(() => undefined);
        return page;
      };
      let next = fetch();
      for (;;) {
        let page: Awaited<typeof next>;
        try {
          page = await next;
        } catch (err) {
          throw unavailable(err, 'paged search');
        }
        if (page.done) return;
        next = fetch();
        const records: DirectoryRecord[] = [];
        for (const entry of page.value.searchEntries) {
          const result = directoryRecord(entry, attributes, kind);
          if (result.ok) records.push(result.record);
          else reject(entry.dn, result.reason);
        }
        summary.entries += page.value.searchEntries.length;
        if (records.length) await client.query(STAGE_PAGE, columns(records));
      }
    });
  }

  private async apply(client: pg.PoolClient, full: boolean, summary: DirectorySyncSummary): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query(ACCOUNT_WRITERS_LOCK);
      await client.query(REJECT_DUPLICATES);
      await client.query(MATCH_BY_DN);
      if (full) await client.query(MATCH_MOVED);
      await client.query(REJECT_TAKEN);
      summary.mailChanged = (await client.query(MAIL_CHANGES)).rowCount ?? 0;
      await client.query(REVOKE_LINKS_TO_OLD_MAIL);
      summary.changed = (await client.query(UPDATE_CHANGED)).rowCount ?? 0;
      summary.created = (await client.query(INSERT_NEW)).rowCount ?? 0;
      if (full) summary.gone = (await client.query<{ n: number }>(DISABLE_GONE)).rows[0].n;
      const { rows } = await client.query<{ dn: string; reason: string; total: number }>(
        `SELECT dn, rejected AS reason, count(*) OVER ()::int AS total FROM directory_staging WHERE rejected IS NOT NULL ORDER BY dn LIMIT ${MAX_LISTED_REJECTIONS}`,
      );
      await client.query('COMMIT');
      if (rows.length) {
        summary.rejected += rows[0].total;
        summary.rejections = [...summary.rejections, ...rows.map(({ dn, reason }) => ({ dn, reason }))].slice(0, MAX_LISTED_REJECTIONS);
      }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

function columns(records: DirectoryRecord[]): unknown[] {
  return [
    records.map((r) => r.dn),
    records.map((r) => r.username),
    records.map((r) => r.email),
    records.map((r) => r.displayName),
    records.map((r) => r.orgUnit),
    records.map((r) => r.locale),
    records.map((r) => r.disabled),
  ];
}
