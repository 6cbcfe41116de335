import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parseEnv } from 'node:util';
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/app-config.js';
import { ENV_FILE_VARIABLE, envFilePath } from '../../config/env-file.js';
import { print } from '../cli-runner.js';

interface InitOptions {
  publicUrl?: string;
  mailFrom?: string;
  organisation?: string;
  helpDesk?: string;
  force?: boolean;
}

const QUESTIONS: Array<{ variable: string; option: keyof InitOptions; flag: string; question: string }> = [
  { variable: 'PUBLIC_URL', option: 'publicUrl', flag: '--public-url', question: 'Public URL of the service, the address in reset links (https://reset.corp.example)' },
  { variable: 'MAIL_FROM', option: 'mailFrom', flag: '--mail-from', question: 'Sender of notices and mails (Corp Security <security@corp.example>)' },
  { variable: 'ORGANISATION_NAME', option: 'organisation', flag: '--organisation', question: 'Organisation name shown to users' },
  { variable: 'HELPDESK_CONTACT', option: 'helpDesk', flag: '--help-desk', question: 'Help-desk contact shown to users (a phone number or desk name; notices carry no address or link)' },
];

async function answers(opts: InitOptions): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  const missing = QUESTIONS.filter((q) => !opts[q.option]);
  if (missing.length && !process.stdin.isTTY) {
    throw new InvalidArgumentError(`not a terminal, so nothing can be asked: give ${missing.map((q) => q.flag).join(', ')}`);
  }
  const prompt = missing.length ? createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  try {
    for (const q of QUESTIONS) {
      let value = String(opts[q.option] ?? '').trim();
      while (!value && prompt) value = (await prompt.question(`${q.question}: `)).trim();
      if (/["\\\r\n]/.test(value)) throw new InvalidArgumentError(`${q.flag}: no quotes, backslashes or line breaks`);
      values[q.variable] = value;
    }
  } finally {
    prompt?.close();
  }
  return values;
}

/** The key of the file being replaced: secrets encrypted with it stay readable after `init --force`. */
function existingKey(file: string): string | undefined {
  return existsSync(file) ? parseEnv(readFileSync(file, 'utf8')).SECRET_ENCRYPTION_KEY : undefined;
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(`write the configuration file the service and resetctl read (${ENV_FILE_VARIABLE}, default ./.env)`)
    .option('--public-url <url>', 'the address users reach the service at (reset links point there)')
    .option('--mail-from <address>', 'sender of notices and mails')
    .option('--organisation <name>', 'organisation name shown to users')
    .option('--help-desk <contact>', 'help-desk contact shown to users')
    .option('--force', 'replace an existing file (its SECRET_ENCRYPTION_KEY is kept)')
    .action(async (opts: InitOptions) => {
      const file = envFilePath();
      if (existsSync(file) && !opts.force) throw new InvalidArgumentError(`${file} exists; --force replaces it`);
      const values = await answers(opts);
      const kept = existingKey(file);
      const key = kept ?? randomBytes(32).toString('base64');
      // The same validation the service applies at boot, so a bad URL is refused now, not at the next start.
      loadConfig({ ...values, SECRET_ENCRYPTION_KEY: key });
      const lines = [
        `# reset-orchestrator configuration, written by resetctl init on ${new Date().toISOString()}.`,
        `# The service and resetctl both read it (${ENV_FILE_VARIABLE} names another file); the process environment wins.`,
        '# Every variable is described in README.md, "Configuration". Keep this file private: SECRET_ENCRYPTION_KEY',
        '# decrypts the temporary passwords waiting to be viewed, and losing it makes them unreadable.',
        `SECRET_ENCRYPTION_KEY=${key}`,
        ...QUESTIONS.map((q) => `${q.variable}="${values[q.variable]}"`),
        '',
      ];
      writeFileSync(file, lines.join('\n'), { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
      chmodSync(file, 0o600);
      print(`wrote ${file}${kept ? ' (kept its SECRET_ENCRYPTION_KEY)' : ' with a new SECRET_ENCRYPTION_KEY'}`);
    });
}
