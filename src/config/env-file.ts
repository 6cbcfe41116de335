import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/** The variable naming the configuration file the service and resetctl share. */
export const ENV_FILE_VARIABLE = 'RESET_ORCHESTRATOR_ENV';
export const DEFAULT_ENV_FILE = '.env';

export class EnvFileError extends Error {}

/** The configuration file's path: RESET_ORCHESTRATOR_ENV, or ./.env in the working directory. */
export function envFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[ENV_FILE_VARIABLE] || DEFAULT_ENV_FILE);
}

/**
 * The process environment over the configuration file's variables: a variable set in the environment wins. A missing
 * ./.env is fine (everything has a default or comes from the environment); a file RESET_ORCHESTRATOR_ENV names must exist.
 */
export function withEnvFile(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const file = envFilePath(env);
  if (!existsSync(file)) {
    if (env[ENV_FILE_VARIABLE]) throw new EnvFileError(`${ENV_FILE_VARIABLE} names ${file}, which does not exist (resetctl init writes one)`);
    return env;
  }
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EnvFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { ...parseEnv(content), ...env };
}
