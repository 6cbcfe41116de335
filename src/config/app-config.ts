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
  /** Notices per second across every campaign and worker, what the relay allows; unset: each campaign's rate only. */
  MAIL_GLOBAL_RATE: z.coerce.number().int().min(1).max(10_000).optional(),
  /** DKIM signing: all three or none (the key is a PEM file, read at start-up). */
  DKIM_DOMAIN: z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a domain name').optional(),
  DKIM_SELECTOR: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a DNS label like mail2026').optional(),
  DKIM_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  IMPORT_MAX_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  IMPORT_MAX_LINE_BYTES: z.coerce.number().int().positive().default(64 * 1024),
  SESSION_IDLE_TIMEOUT: duration.default(parseDuration('30m') as never),
  SESSION_ABSOLUTE_TIMEOUT: duration.default(parseDuration('8h') as never),
  PASSWORD_BLOCKLIST_FILE: z.string().optional(),
  PASSWORD_HISTORY: z.coerce.number().int().min(0).max(64).default(5),
  /** RACF preset: 9-character minimum instead of 14 (what the ICHPWX11 exit / KDFAES allow). */
  PASSWORD_RACF_RELAXED: z.enum(['true', 'false']).default('false'),
  /** RACF MINCHANGE: how long after a change a voluntary change is refused (forced resets are never held back). */
  PASSWORD_MIN_CHANGE: duration.optional(),
  /** RACF INTERVAL: days a password stays valid (1-254); unset means passwords never expire. */
  PASSWORD_EXPIRY_DAYS: z.coerce.number().int().min(1).max(254).optional(),
  LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(5),
  LOGIN_FAILURES_PER_IP: z.coerce.number().int().min(1).default(50),
  RESET_LINKS_PER_ACCOUNT: z.coerce.number().int().min(1).default(3),
  RESET_LINKS_PER_IP: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_WINDOW: duration.default(parseDuration('15m') as never),
  SECRET_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  SECRET_TTL: duration.default(parseDuration('24h') as never),
  /** Where development and test keep a generated SECRET_ENCRYPTION_KEY; production must set the key. */
  SECRET_KEY_FILE: z.string().default('var/secret-encryption.key'),
  CAMPAIGN_SWEEP_INTERVAL: duration.default(parseDuration('5s') as never),
  CAMPAIGN_FLAG_BATCH: z.coerce.number().int().min(100).max(50_000).default(10_000),
  NOTICE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(10),
  NOTICE_SEND_BUDGET_MS: z.coerce.number().int().min(1).max(60_000).default(100),
  NOTICE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(10),
  NOTICE_RETRY_DELAY_MS: z.coerce.number().int().min(10).max(3_600_000).default(5_000),
  NOTICE_QUEUE_MAX: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
}).superRefine((c, ctx) => {
  const dkim = [c.DKIM_DOMAIN, c.DKIM_SELECTOR, c.DKIM_PRIVATE_KEY_FILE].filter((v) => v !== undefined).length;
  if (dkim !== 0 && dkim !== 3) {
    ctx.addIssue({ code: 'custom', path: ['DKIM_DOMAIN'], message: 'set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE together, or none of them' });
  }
});

type ParsedEnv = z.infer<typeof configSchema>;

export interface AppConfig {
  env: ParsedEnv['NODE_ENV'];
  role: ParsedEnv['ROLE'];
  http: { host: string; port: number; publicUrl: string; secureCookies: boolean };
  database: { url: string; poolSize: number };
  redis: { url: string; queuePrefix: string };
  mail: {
    smtpUrl?: string;
    poolSize: number;
    from: string;
    outboxDir: string;
    /** Cap on notices per second over all campaigns together. */
    globalRate?: number;
    /** Every outgoing mail is DKIM-signed for this domain when set. */
    dkim?: { domain: string; selector: string; privateKeyFile: string };
  };
  logLevel: ParsedEnv['LOG_LEVEL'];
  imports: { maxBytes: number; maxLineBytes: number };
  sessions: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  passwords: { blocklistFile?: string; historySize: number; racfRelaxed: boolean; minChangeSeconds?: number; expiryDays?: number };
  /** Fixed-window limits kept in Redis, so they hold across API instances. */
  limits: { windowSeconds: number; loginFailuresPerAccount: number; loginFailuresPerIp: number; resetLinksPerAccount: number; resetLinksPerIp: number };
  secrets: { encryptionKey?: Buffer; ttlSeconds: number; keyFile: string };
  campaigns: {
    /** How often workers rebuild queue state from the database (interrupted flagging, lost notice jobs, completion). */
    sweepIntervalSeconds: number;
    flagBatchSize: number;
    /** Most notices one worker sends at once for one campaign. */
    noticeConcurrency: number;
    /** Typical time one send takes; with the rate it sets how many sends run at once (see sendSlotsFor). */
    noticeSendBudgetMs: number;
    noticeMaxAttempts: number;
    /** First retry delay of a transiently failed notice; doubles with each attempt. */
    noticeRetryDelayMs: number;
    /** Most notice jobs one campaign keeps waiting in Redis (about 700 bytes each). */
    noticeQueueMax: number;
  };
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
    mail: {
      smtpUrl: c.SMTP_URL,
      poolSize: c.SMTP_POOL_SIZE,
      from: c.MAIL_FROM,
      outboxDir: c.MAIL_OUTBOX_DIR,
      globalRate: c.MAIL_GLOBAL_RATE,
      dkim: c.DKIM_DOMAIN && c.DKIM_SELECTOR && c.DKIM_PRIVATE_KEY_FILE
        ? { domain: c.DKIM_DOMAIN, selector: c.DKIM_SELECTOR, privateKeyFile: c.DKIM_PRIVATE_KEY_FILE }
        : undefined,
    },
    logLevel: c.LOG_LEVEL,
    imports: { maxBytes: c.IMPORT_MAX_BYTES, maxLineBytes: c.IMPORT_MAX_LINE_BYTES },
    sessions: { idleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT, absoluteTimeoutSeconds: c.SESSION_ABSOLUTE_TIMEOUT },
    passwords: {
      blocklistFile: c.PASSWORD_BLOCKLIST_FILE,
      historySize: c.PASSWORD_HISTORY,
      racfRelaxed: c.PASSWORD_RACF_RELAXED === 'true',
      minChangeSeconds: c.PASSWORD_MIN_CHANGE,
      expiryDays: c.PASSWORD_EXPIRY_DAYS,
    },
    limits: {
      windowSeconds: c.RATE_LIMIT_WINDOW,
      loginFailuresPerAccount: c.LOGIN_FAILURES_PER_ACCOUNT,
      loginFailuresPerIp: c.LOGIN_FAILURES_PER_IP,
      resetLinksPerAccount: c.RESET_LINKS_PER_ACCOUNT,
      resetLinksPerIp: c.RESET_LINKS_PER_IP,
    },
    secrets: {
      encryptionKey: c.SECRET_ENCRYPTION_KEY ? Buffer.from(c.SECRET_ENCRYPTION_KEY, 'base64') : undefined,
      ttlSeconds: c.SECRET_TTL,
      keyFile: c.SECRET_KEY_FILE,
    },
    campaigns: {
      sweepIntervalSeconds: c.CAMPAIGN_SWEEP_INTERVAL,
      flagBatchSize: c.CAMPAIGN_FLAG_BATCH,
      noticeConcurrency: c.NOTICE_CONCURRENCY,
      noticeSendBudgetMs: c.NOTICE_SEND_BUDGET_MS,
      noticeMaxAttempts: c.NOTICE_MAX_ATTEMPTS,
      noticeRetryDelayMs: c.NOTICE_RETRY_DELAY_MS,
      noticeQueueMax: c.NOTICE_QUEUE_MAX,
    },
  };
}
