import type { Command } from 'commander';

/** `resetctl accounts temp-password …`. */
export function registerSecretsCommands(_program: Command): void {}
