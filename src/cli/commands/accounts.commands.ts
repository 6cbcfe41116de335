import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ImportSummary } from '../../accounts/accounts-import.service.js';
import { IMPORT_FORMATS, formatFromName, type ImportFormat } from '../../accounts/import/import-reader.js';
import { type CliModuleLoader, positiveInt, print, withApp } from '../cli-runner.js';
import { importFromDirectory } from './directory.commands.js';

interface ImportCommandOptions {
  from?: ImportFormat;
  format?: ImportFormat;
  map?: string;
  emailVerified?: 'all' | 'none';
  updateCredentials?: boolean;
  allowPlaintext?: boolean;
  fromDirectory?: boolean;
  filter?: string;
}

const accountsModule: CliModuleLoader = async (config) => (await import('../accounts-cli.module.js')).AccountsCliModule.forRoot(config);
const accountsService = async () => (await import('../../accounts/accounts.service.js')).AccountsService;

export function registerAccountsCommands(program: Command): void {
  const accounts = program.command('accounts').description('end-user accounts');
  accounts
    .command('import [file]')
    .description('import or update accounts: the own CSV/NDJSON columns (username,email,displayName,orgUnit,locale,emailVerified,passwordHash), an identity provider export, any CSV with --map, or the directory')
    .addOption(new Option('--from <export>', 'what the file is (default: csv or ndjson from the file name)').choices([...IMPORT_FORMATS]))
    .option('--format <format>', 'same as --from (kept for scripts)')
    .option('--map <fields>', "for a CSV of its own shape, e.g. username=login,displayName='{firstName} {lastName}',orgUnit=department,externalId=id")
    .addOption(new Option('--email-verified <which>', 'required when the source has no emailVerified field: are its addresses verified?').choices(['all', 'none']))
    .option('--update-credentials', 'apply changed password hashes, emails and emailVerified to existing accounts (signs them out; never over a password set here since)')
    .option('--allow-plaintext', 'accept the plain password column (demo data; refused when NODE_ENV=production)')
    .option('--from-directory', 'sync the accounts from the directory (DIRECTORY_* settings) instead of a file')
    .option('--filter <filter>', "with --from-directory: only entries that also match this LDAP filter, e.g. '(ou=Finance)'")
    .action(async (file: string | undefined, opts: ImportCommandOptions) => {
      if (opts.fromDirectory) {
        if (file) throw new InvalidArgumentError('give a file or --from-directory, not both');
        return importFromDirectory(opts.filter);
      }
      if (!file) throw new InvalidArgumentError('give the file to import, or --from-directory');
      if (opts.filter) throw new InvalidArgumentError('--filter is for --from-directory');
      const format = opts.from ?? opts.format ?? formatFromName(file);
      if (!IMPORT_FORMATS.includes(format)) throw new InvalidArgumentError(`--format must be one of ${IMPORT_FORMATS.join(', ')}`);
      const options = { format, map: opts.map, emailVerified: opts.emailVerified, updateCredentials: opts.updateCredentials, allowPlaintext: opts.allowPlaintext };
      const Accounts = await accountsService();
      const summary = await withApp((get, actor) => get(Accounts).importFile(file, options, actor), accountsModule);
      print(summary);
      warnLoudly(summary);
      if (summary.rejected) process.exitCode = 3;
    });

  const demo = program.command('demo').description('demo data');
  demo
    .command('seed')
    .description('create demo accounts demo000001… with a known password')
    .option('--accounts <n>', 'how many', positiveInt, 1000)
    .option('--password <password>', 'their password', 'demo password 2024!')
    .action(async (opts: { accounts: number; password: string }) => {
      const Accounts = await accountsService();
      print(await withApp((get, actor) => get(Accounts).seedDemo(opts.accounts, opts.password, actor), accountsModule));
    });
}

/** The numbers a responder must not miss, on stderr after the summary. */
function warnLoudly(summary: ImportSummary): void {
  const lines: string[] = [];
  if (summary.cannotSignIn) {
    lines.push(`WARNING: ${summary.cannotSignIn} imported accounts have no password hash, application or directory DN: they can never reach the pre-reset page.`);
  }
  if (summary.rejected) {
    lines.push(`WARNING: ${summary.rejected} lines were rejected` + (summary.rejectionsFile ? `; ${summary.rejectionsNotListed} are not listed above, every one is in ${summary.rejectionsFile}` : ' (listed above)'));
  }
  if (summary.kept) lines.push(`NOTE: ${summary.kept} lines carried credential changes that were kept, not applied (see keptChanges).`);
  if (lines.length) process.stderr.write(`${lines.join('\n')}\n`);
}
