import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestException, Inject, Injectable, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { PasswordHasherService } from '../passwords/password-hasher.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { operatorActor, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { ACCOUNT_WRITERS_LOCK, AccountsImportService, type ImportOptions, type ImportSummary } from './accounts-import.service.js';
import type { ImportQueryDto } from './dto/import-query.dto.js';
import { ImportFileError } from './import/import-file-error.js';
import type { ImportFormat } from './import/import-reader.js';

/** Content types that name a format themselves; with `from`, any of these or a JSON/LDIF/plain-text type is accepted. */
const FORMATS: Record<string, ImportFormat> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};
const EXPORT_TYPES = new Set([...Object.keys(FORMATS), 'application/json', 'text/plain', 'application/ldif', 'text/ldif', 'text/x-ldif', 'text/directory']);

class UploadTooLarge extends Error {}

@Injectable()
export class AccountsService {
  constructor(
    private readonly importer: AccountsImportService,
    private readonly audit: AuditService,
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Creates demo accounts demo000001… with one known password, in one set-based statement.
   * Every third account has no verified email, so the admin-assisted path has something to show.
   */
  async seedDemo(count: number, password: string, actor: string): Promise<{ created: number }> {
    if (!Number.isInteger(count) || count < 1 || count > 5_000_000) throw new BadRequestException('count must be 1 to 5,000,000');
    const passwordHash = await this.hasher.hash(password);
    const [, created] = await this.prisma.$transaction([
      this.prisma.$executeRawUnsafe(ACCOUNT_WRITERS_LOCK),
      this.prisma.$executeRawUnsafe(
        `INSERT INTO accounts (username, email, email_verified, display_name, org_unit, locale, password_hash, password_changed_at)
         SELECT 'demo' || lpad(i::text, 6, '0'), 'demo' || lpad(i::text, 6, '0') || '@example.org', i % 3 <> 0,
                'Demo User ' || i, (ARRAY['finance','engineering','sales','support','operations'])[1 + i % 5], 'en', $2, now()
         FROM generate_series(1, $1::int) AS i
         ON CONFLICT (username) DO NOTHING`,
        count,
        passwordHash,
      ),
    ]);
    await this.audit.recordNow({ actor, action: 'accounts.demo-seed', details: { requested: count, created } });
    return { created };
  }

  /** Imports a file from disk (the CLI path) and records who did it. */
  async importFile(filePath: string, options: ImportOptions, actor: string): Promise<ImportSummary> {
    try {
      const summary = await this.importer.importFile(filePath, options, actor);
      await this.audit.recordNow({
        actor,
        action: 'accounts.import',
        details: {
          file: path.basename(filePath),
          format: options.format,
          created: summary.created,
          updated: summary.updated,
          rejected: summary.rejected,
          kept: summary.kept,
          credentialsUpdated: summary.credentialsUpdated,
          cannotSignIn: summary.cannotSignIn,
          updateCredentials: Boolean(options.updateCredentials),
        },
      });
      return summary;
    } catch (err) {
      if (err instanceof ImportFileError) throw new BadRequestException(err.message);
      throw err;
    }
  }

  /** Spools an uploaded file to a private temp directory, enforcing the size limit on the way, and imports it from there. */
  async importUpload(body: NodeJS.ReadableStream, contentType: string | undefined, query: ImportQueryDto, operator: AuthenticatedOperator): Promise<ImportSummary> {
    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    const format = query.from ?? FORMATS[type];
    if (!format || !EXPORT_TYPES.has(type)) {
      throw new UnsupportedMediaTypeException('send the file as text/csv or application/x-ndjson, or name the export with ?from=okta|auth0|keycloak|ldif|csv');
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'reset-import-'));
    const file = path.join(dir, `upload.${format}`);
    const limit = this.config.imports.maxBytes;
    let received = 0;
    try {
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            received += chunk.length;
            done(received > limit ? new UploadTooLarge() : null, chunk);
          },
        }),
        createWriteStream(file, { mode: 0o600 }),
      );
      const { map, emailVerified, updateCredentials, allowPlaintext } = query;
      return await this.importFile(file, { format, map, emailVerified, updateCredentials, allowPlaintext }, operatorActor(operator));
    } catch (err) {
      if (err instanceof UploadTooLarge) throw new PayloadTooLargeException(`the file is larger than ${limit} bytes`);
      throw err;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
