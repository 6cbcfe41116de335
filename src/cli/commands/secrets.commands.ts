import { type Command, InvalidArgumentError } from 'commander';
import { print, withApp } from '../cli-runner.js';

// Loaded when a command runs, not when resetctl starts (see CliModuleLoader).
const secretsService = async () => (await import('../../secrets/secrets.service.js')).SecretsService;

/** `resetctl accounts temp-password …`. */
export function registerSecretsCommands(accounts: Command): void {
  accounts
    .command('temp-password <username>')
    .description('set a generated, expired temporary password and print a one-time view link (the password is never shown here)')
    .option('--external <system:user>', 'for a system this product does not own (e.g. MVSPROD:JDOE01): no account is changed, no hash kept')
    .option('--email', "email the view link (never the password) to the account's verified address")
    .option('--ttl <duration>', 'how long the link works, 1m to 7d (default SECRET_TTL)')
    .option('--code', 'require a 6-digit code, printed once, that you read to the user by phone')
    .option('--format <format>', 'with --external: password (8 characters, default) or phrase (19 characters)')
    .option('--reason <text>', 'ticket or incident reference for the audit log')
    .action(async (username: string, opts: { external?: string; email?: boolean; ttl?: string; code?: boolean; format?: string; reason?: string }) => {
      if (opts.format !== undefined && opts.format !== 'password' && opts.format !== 'phrase') {
        throw new InvalidArgumentError('--format must be password or phrase');
      }
      const format = opts.format as 'password' | 'phrase' | undefined;
      print(await withApp(async (get, actor) => get(await secretsService()).issueTemporaryPassword(username, { ...opts, format }, actor)));
    });

  accounts
    .command('secret-status <id>')
    .description('whether a one-time link was viewed, and when')
    .action(async (id: string) => {
      const n = Number(id);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a secret id');
      print(await withApp(async (get) => get(await secretsService()).status(n)));
    });
}
