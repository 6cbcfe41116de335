#!/usr/bin/env -S node --max-old-space-size=256
import './wasm-baseline.js';
import 'reflect-metadata';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/app-config.js';
import { StartupError } from '../preflight.js';
import { createMigration, diffDatabaseToSchema } from '../prisma/migrations.js';
import { preflight } from '../preflight.js';
import { cliConfig, print } from './cli-runner.js';
import { registerAccountsCommands } from './commands/accounts.commands.js';
import { registerAppsCommands } from './commands/apps.commands.js';
import { registerCampaignCommands } from './commands/campaigns.commands.js';
import { registerInitCommand } from './commands/init.command.js';
import { registerDirectoryCommands } from './commands/directory.commands.js';
import { registerOperatorsCommands } from './commands/operators.commands.js';
import { registerSecretsCommands } from './commands/secrets.commands.js';

const program = new Command('resetctl').description('reset-orchestrator command line').showHelpAfterError();

registerInitCommand(program);

const db = program.command('db').description('database schema');
db.command('migrate')
  .description('create the database if missing and apply pending migrations')
  .action(async () => print(await preflight(cliConfig())));
db.command('migration <name>')
  .description('write a new migration from the changes in prisma/schema.prisma')
  .action(async (name: string) =>
    print((await createMigration(cliConfig().database.url, name)) ?? 'schema.prisma and the migrations agree; nothing to write'),
  );
db.command('drift')
  .description('show SQL that would bring the database to schema.prisma (empty when they agree)')
  .action(async () => print((await diffDatabaseToSchema(cliConfig().database.url)) || 'no drift'));

registerAccountsCommands(program);
registerSecretsCommands(program.commands.find((c) => c.name() === 'accounts')!);
registerCampaignCommands(program);
registerOperatorsCommands(program);
registerAppsCommands(program);
registerDirectoryCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof StartupError || err instanceof ConfigError || err instanceof InvalidArgumentError) {
    process.stderr.write(`resetctl: ${err.message}\n`);
  } else {
    const e = err as { response?: { message?: unknown }; message?: string };
    process.stderr.write(`resetctl: ${String(e.response?.message ?? e.message ?? err)}\n`);
  }
  process.exit(1);
});
