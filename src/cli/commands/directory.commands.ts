import { type Command, InvalidArgumentError } from 'commander';
import { isLdapFilter } from '../../config/app-config.js';
import { type CliModuleLoader, print, withApp } from '../cli-runner.js';

// Loaded when a command runs, not when resetctl starts (see CliModuleLoader).
const accountsModule: CliModuleLoader = async (config) => (await import('../accounts-cli.module.js')).AccountsCliModule.forRoot(config);

/** `resetctl accounts import --from-directory [--filter …]`: the sync, printed like a file import's summary. */
export async function importFromDirectory(filter: string | undefined): Promise<void> {
  if (filter !== undefined && !isLdapFilter(filter)) throw new InvalidArgumentError(`--filter ${filter} is not an LDAP filter like '(ou=Finance)'`);
  const { DirectorySyncService } = await import('../../accounts/directory/directory-sync.service.js');
  const summary = await withApp((get, actor) => get(DirectorySyncService).sync(actor, filter), accountsModule);
  print(summary);
  if (summary.rejected) process.exitCode = 3;
}

/** `resetctl directory check`. */
export function registerDirectoryCommands(program: Command): void {
  const directory = program.command('directory').description('the LDAP / Active Directory server (DIRECTORY_* settings)');
  directory
    .command('check')
    .description('bind as the service account, search one page and say in plain words what is wrong')
    .action(async () => {
      const { DirectoryCheckService } = await import('../../directory/directory-check.service.js');
      const result = await withApp((get) => get(DirectoryCheckService).check(), accountsModule);
      print(result.lines.join('\n'));
      if (!result.ok) process.exitCode = 1;
    });
}
