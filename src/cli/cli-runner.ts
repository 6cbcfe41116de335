import type { INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InvalidArgumentError } from 'commander';
import { type AppConfig, loadConfig } from '../config/app-config.js';
import { preflight } from '../preflight.js';
import { CliModule } from './cli.module.js';

/** The audit actor for CLI commands: the operating-system user running them. */
export const CLI_ACTOR = `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;

export type ServiceGetter = <S>(type: Type<S>) => S;

export function cliConfig(): AppConfig {
  return { ...loadConfig(), logLevel: 'warn' };
}

/** Runs one command inside a Nest application context, after the same checks the service makes at start. */
export async function withApp<T>(work: (get: ServiceGetter) => Promise<T>): Promise<T> {
  const config = cliConfig();
  await preflight(config);
  const app: INestApplicationContext = await NestFactory.createApplicationContext(CliModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    return await work((type) => app.get(type));
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
