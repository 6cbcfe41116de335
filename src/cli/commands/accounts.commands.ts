import { type Command, InvalidArgumentError } from 'commander';
import { formatFromName, type ImportFormat } from '../../accounts/import/import-reader.js';
import { CLI_ACTOR, type CliModuleLoader, positiveInt, print, withApp } from '../cli-runner.js';
import { importFromDirectory } from './directory.commands.js';

const accountsModule: CliModuleLoader = async (config) => (await import('../accounts-cli.module.js')).AccountsCliModule.forRoot(config);
const accountsService = async () => (await import('../../accounts/accounts.service.js')).AccountsService;

export function registerAccountsCommands(program: Command): void {
  const accounts = program.command('accounts').description('end-user accounts');
  accounts
    .command('import [file]')
    .description('import or update accounts from CSV or NDJSON (username,email,displayName,orgUnit,locale,emailVerified,password|passwordHash)')
    .option('--format <format>', 'csv or ndjson (default: from the file name)')
    .option('--from-directory', 'sync the accounts from the directory (DIRECTORY_* settings) instead of a file')
    .option('--filter <filter>', "with --from-directory: only entries that also match this LDAP filter, e.g. '(ou=Finance)'")
    .action(async (file: string | undefined, opts: { format?: ImportFormat; fromDirectory?: boolean; filter?: string }) => {
      if (opts.fromDirectory) {
        if (file) throw new InvalidArgumentError('give a file or --from-directory, not both');
        return importFromDirectory(opts.filter);
      }
      if (!file) throw new InvalidArgumentError('give the file to import, or --from-directory');
      if (opts.filter) throw new InvalidArgumentError('--filter is for --from-directory');
      const format = opts.format ?? formatFromName(file);
      if (format !== 'csv' && format !== 'ndjson') throw new InvalidArgumentError('--format must be csv or ndjson');
      const Accounts = await accountsService();
      const summary = await withApp((get) => get(Accounts).importFile(file, format, CLI_ACTOR), accountsModule);
      print(summary);
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
      print(await withApp((get) => get(Accounts).seedDemo(opts.accounts, opts.password, CLI_ACTOR), accountsModule));
    });
}
