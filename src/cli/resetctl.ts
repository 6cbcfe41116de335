#!/usr/bin/env node
import 'reflect-metadata';
import { type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, InvalidArgumentError } from 'commander';
import { AccountsService } from '../accounts/accounts.service.js';
import { formatFromName, type ImportFormat } from '../accounts/import/import-reader.js';
import { AuditService } from '../audit/audit.service.js';
import { type AppConfig, ConfigError, loadConfig } from '../config/app-config.js';
import { OperatorsService } from '../operators/operators.service.js';
import { StartupError, preflight } from '../preflight.js';
import { createMigration, diffDatabaseToSchema } from '../prisma/migrations.js';
import { CliModule } from './cli.module.js';

const ACTOR = `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;

function config(): AppConfig {
  return { ...loadConfig(), logLevel: 'warn' };
}

/** Runs one command inside a Nest application context, after the same checks the service makes at start. */
async function withApp<T>(work: (get: <S>(type: Type<S>) => S) => Promise<T>): Promise<T> {
  const cfg = config();
  await preflight(cfg);
  const app: INestApplicationContext = await NestFactory.createApplicationContext(CliModule.forRoot(cfg), { logger: ['error', 'warn'] });
  try {
    return await work((type) => app.get(type));
  } finally {
    await app.close();
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function print(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}

const program = new Command('resetctl').description('reset-orchestrator command line').showHelpAfterError();

const db = program.command('db').description('database schema');
db.command('migrate')
  .description('create the database if missing and apply pending migrations')
  .action(async () => print(await preflight(config())));
db.command('migration <name>')
  .description('write a new migration from the changes in prisma/schema.prisma')
  .action(async (name: string) => print((await createMigration(config().database.url, name)) ?? 'schema.prisma and the migrations agree; nothing to write'));
db.command('drift')
  .description('show SQL that would bring the database to schema.prisma (empty when they agree)')
  .action(async () => print((await diffDatabaseToSchema(config().database.url)) || 'no drift'));

const accounts = program.command('accounts').description('end-user accounts');
accounts
  .command('import <file>')
  .description('import or update accounts from CSV or NDJSON (username,email,displayName,orgUnit,locale,emailVerified,password|passwordHash)')
  .option('--format <format>', 'csv or ndjson (default: from the file name)')
  .action(async (file: string, opts: { format?: ImportFormat }) => {
    const format = opts.format ?? formatFromName(file);
    if (format !== 'csv' && format !== 'ndjson') throw new InvalidArgumentError('--format must be csv or ndjson');
    const summary = await withApp((get) => get(AccountsService).importFile(file, format, ACTOR));
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
    print(await withApp((get) => get(AccountsService).seedDemo(opts.accounts, opts.password, ACTOR)));
  });

const operators = program.command('operators').description('operator accounts (admin, responder, manager)');
operators
  .command('create')
  .requiredOption('--username <username>')
  .requiredOption('--role <role>', 'admin, responder or manager')
  .action(async (opts: { username: string; role: string }) => {
    if (!['admin', 'responder', 'manager'].includes(opts.role)) throw new InvalidArgumentError('--role must be admin, responder or manager');
    const created = await withApp((get) => get(OperatorsService).create(opts.username, opts.role as never, ACTOR));
    print(`operator ${opts.username} (${opts.role}) created. Shown once, store them now:\n  password:  ${created.password}\n  API token: ${created.token}`);
  });

const audit = program.command('audit').description('the append-only audit log');
audit
  .command('verify')
  .description('check the hash chain; exits 1 when an entry was removed or edited')
  .action(async () => {
    const result = await withApp((get) => get(AuditService).verify());
    print(result);
    if (!result.ok) process.exitCode = 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof StartupError || err instanceof ConfigError || err instanceof InvalidArgumentError) {
    process.stderr.write(`resetctl: ${err.message}\n`);
  } else {
    const e = err as { response?: { message?: unknown }; message?: string };
    process.stderr.write(`resetctl: ${String(e.response?.message ?? e.message ?? err)}\n`);
  }
  process.exit(1);
});
