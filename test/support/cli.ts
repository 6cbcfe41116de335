import { Command } from 'commander';
import { vi } from 'vitest';
import { registerAccountsCommands } from '../../src/cli/commands/accounts.commands.js';
import { registerDirectoryCommands } from '../../src/cli/commands/directory.commands.js';

export interface CliRun {
  /** Everything printed to stdout. */
  output: string;
  exitCode: typeof process.exitCode;
}

/**
 * Runs resetctl commands in this process (the `accounts` and `directory` groups) with `env` added to the environment,
 * capturing stdout; the environment and exit code are restored afterwards. Each command runs in turn; one that
 * throws ends the run with its error.
 */
export async function runResetctl(commands: string[][], env: Record<string, string>): Promise<CliRun> {
  const saved = { ...process.env };
  const savedExitCode = process.exitCode;
  Object.assign(process.env, env);
  const printed: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
  try {
    const program = new Command().exitOverride();
    registerAccountsCommands(program);
    registerDirectoryCommands(program);
    for (const args of commands) await program.parseAsync(args, { from: 'user' });
    return { output: printed.join(''), exitCode: process.exitCode };
  } finally {
    write.mockRestore();
    process.env = saved;
    process.exitCode = savedExitCode;
  }
}
