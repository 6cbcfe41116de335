import { z } from 'zod';

const durationPattern = /^(\d+)(s|m|h|d)$/;
const unitSeconds = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Parses `90s`, `30m`, `24h`, `7d` into seconds. */
export function parseDuration(value: string): number {
  const match = durationPattern.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a duration like 30m, 24h or 90s`);
  return Number(match[1]) * unitSeconds[match[2] as keyof typeof unitSeconds];
}

const duration = z
  .string()
  .regex(durationPattern, 'expected a duration like 30m, 24h or 90s')
  .transform((v) => parseDuration(v));

const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:/.test(v), 'expected a postgresql:// URL');

const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:/.test(v), 'expected a redis:// URL');

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  DATABASE_URL: postgresUrl.default('postgresql://postgres@127.0.0.1:5432/reset_orchestrator'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().min(1).default('reset-orchestrator'),
  SMTP_URL: z.string().url().optional(),
  SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(5),
  MAIL_FROM: z.string().default('Security Team <security@example.invalid>'),
  MAIL_OUTBOX_DIR: z.string().default('var/outbox'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  IMPORT_MAX_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  IMPORT_MAX_LINE_BYTES: z.coerce.number().int().positive().default(64 * 1024),
  SESSION_IDLE_TIMEOUT: duration.default(parseDuration('30m') as never),
  SESSION_ABSOLUTE_TIMEOUT: duration.default(parseDuration('8h') as never),
  PASSWORD_BLOCKLIST_FILE: z.string().optional(),
  PASSWORD_HISTORY: z.coerce.number().int().min(0).max(64).default(5),
  SECRET_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  SECRET_TTL: duration.default(parseDuration('24h') as never),
});

type ParsedEnv = z.infer<typeof configSchema>;

export interface AppConfig {
  env: ParsedEnv['NODE_ENV'];
  role: ParsedEnv['ROLE'];
  http: { host: string; port: number; publicUrl: string; secureCookies: boolean };
  database: { url: string; poolSize: number };
  redis: { url: string; queuePrefix: string };
  mail: { smtpUrl?: string; poolSize: number; from: string; outboxDir: string };
  logLevel: ParsedEnv['LOG_LEVEL'];
  imports: { maxBytes: number; maxLineBytes: number };
  sessions: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  passwords: { blocklistFile?: string; historySize: number };
  secrets: { encryptionKey?: Buffer; ttlSeconds: number };
}

export class ConfigError extends Error {}

/** Validates the environment once at boot; nothing else in the application reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const c = result.data;
  return {
    env: c.NODE_ENV,
    role: c.ROLE,
    http: { host: c.HOST, port: c.PORT, publicUrl: c.PUBLIC_URL.replace(/\/$/, ''), secureCookies: c.PUBLIC_URL.startsWith('https:') },
    database: { url: c.DATABASE_URL, poolSize: c.DATABASE_POOL_SIZE },
    redis: { url: c.REDIS_URL, queuePrefix: c.QUEUE_PREFIX },
    mail: { smtpUrl: c.SMTP_URL, poolSize: c.SMTP_POOL_SIZE, from: c.MAIL_FROM, outboxDir: c.MAIL_OUTBOX_DIR },
    logLevel: c.LOG_LEVEL,
    imports: { maxBytes: c.IMPORT_MAX_BYTES, maxLineBytes: c.IMPORT_MAX_LINE_BYTES },
    sessions: { idleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT, absoluteTimeoutSeconds: c.SESSION_ABSOLUTE_TIMEOUT },
    passwords: { blocklistFile: c.PASSWORD_BLOCKLIST_FILE, historySize: c.PASSWORD_HISTORY },
    secrets: {
      encryptionKey: c.SECRET_ENCRYPTION_KEY ? Buffer.from(c.SECRET_ENCRYPTION_KEY, 'base64') : undefined,
      ttlSeconds: c.SECRET_TTL,
    },
  };
}
