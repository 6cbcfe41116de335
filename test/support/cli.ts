import { Command } from 'commander';
import { vi } from 'vitest';
import type { TestApp } from './test-app.js';

export interface CliRun {
  out: string;
  err: string;
  /** process.exitCode as the commands left it (resetctl exits with it); a thrown error rejects instead (exit 1). */
  exitCode: number | undefined;
}

/**
 * Runs resetctl commands in this process, in turn, with `env` added to the environment, capturing stdout and stderr;
 * the environment and exit code are restored afterwards. One that throws ends the run with its error.
 */
export async function runCommands(register: (program: Command) => void, commands: string[][], env: Record<string, string>): Promise<CliRun> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  process.exitCode = undefined;
  try {
    const program = new Command().exitOverride();
    register(program);
    for (const args of commands) await program.parseAsync(args, { from: 'user' });
    return { out: out.join(''), err: err.join(''), exitCode: process.exitCode };
  } finally {
    process.exitCode = undefined;
    stdout.mockRestore();
    stderr.mockRestore();
    process.env = saved;
  }
}

/** Runs one resetctl command in this process against the test app's database, Redis prefix and key. */
export function runCli(t: TestApp, register: (program: Command) => void, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCommands(register, [args], {
    DATABASE_URL: t.config.database.url,
    QUEUE_PREFIX: t.config.redis.queuePrefix,
    ...(t.config.secrets.encryptionKey ? { SECRET_ENCRYPTION_KEY: t.config.secrets.encryptionKey.toString('base64') } : {}),
    ...env,
  });
}
