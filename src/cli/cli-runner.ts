import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { InvalidArgumentError } from 'commander';
import { type AppConfig, loadConfig } from '../config/app-config.js';
import { preflight } from '../preflight.js';

export type ServiceGetter = <S>(type: Type<S>) => S;

/**
 * The Nest module a command runs in. Loaded only when the command runs, so a command loads what it uses
 * and nothing else (`accounts import` would otherwise spend a second loading the HTTP, Swagger, queue and mail stacks).
 */
export type CliModuleLoader = (config: AppConfig) => Promise<DynamicModule>;

const everything: CliModuleLoader = async (config) => (await import('./cli.module.js')).CliModule.forRoot(config);

export function cliConfig(): AppConfig {
  return { ...loadConfig(), logLevel: 'warn' };
}

/**
 * Runs one command inside a Nest application context, after the same checks the service makes at start; `actor` is
 * the command's audit actor (the operating-system user).
 */
export async function withApp<T>(work: (get: ServiceGetter, actor: string) => Promise<T>, load: CliModuleLoader = everything): Promise<T> {
  const config = cliConfig();
  await preflight(config);
  const [{ NestFactory }, module] = await Promise.all([import('@nestjs/core'), load(config)]);
  const app: INestApplicationContext = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn'] });
  try {
    return await work((type) => app.get(type), config.cliActor);
  } finally {
    await app.close();
  }
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

export function print(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}
