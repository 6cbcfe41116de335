import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { FilterParser } from 'ldapts';
import { z } from 'zod';
import { EnvFileError, withEnvFile } from './env-file.js';

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

export interface Cidr {
  network: string;
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8` or a bare address (a network of one); null when it is neither. */
export function parseCidr(value: string): Cidr | null {
  const [address, prefixText, extra] = value.split('/');
  const version = isIP(address);
  if (!version || extra !== undefined) return null;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return null;
  return { network: value, address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Express' `trust proxy` syntax minus `true`, which believes any X-Forwarded-For a client writes. */
const trustProxy = z
  .string()
  .optional()
  .transform((value, ctx): false | number | string[] => {
    const text = value?.trim() ?? '';
    if (!text || text === 'false') return false;
    if (/^\d+$/.test(text)) {
      if (Number(text) >= 1 && Number(text) <= 10) return Number(text);
      ctx.addIssue({ code: 'custom', message: 'a hop count is 1 to 10 (leave TRUST_PROXY unset to trust no proxy)' });
      return z.NEVER;
    }
    const entries = list(text);
    const bad = entries.filter((e) => !PROXY_NAMES.has(e) && !parseCidr(e));
    if (text === 'true') ctx.addIssue({ code: 'custom', message: 'trusting every hop lets any client choose its address; give a hop count or the proxies\' addresses' });
    else if (bad.length) ctx.addIssue({ code: 'custom', message: `not loopback, linklocal, uniquelocal, an address or a CIDR network: ${bad.join(', ')}` });
    return entries;
  });

export interface NetworkLimit extends Cidr {
  loginFailuresPerIp: number;
}

const networkLimits = z
  .string()
  .default('')
  .transform((value, ctx): NetworkLimit[] =>
    list(value).flatMap((entry) => {
      // The limit follows the last colon, so IPv6 networks need no quoting.
      const colon = entry.lastIndexOf(':');
      const cidr = colon > 0 ? parseCidr(entry.slice(0, colon)) : null;
      const max = colon > 0 && /^\d+$/.test(entry.slice(colon + 1)) ? Number(entry.slice(colon + 1)) : 0;
      if (!cidr || max < 1) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not network:limit, e.g. 10.20.0.0/16:1000` });
        return [];
      }
      return [{ ...cidr, loginFailuresPerIp: max }];
    }),
  );
/** An RFC 4515 filter in its parentheses, so it can be combined with another in (&…). */
export function isLdapFilter(value: string): boolean {
  if (!/^\(.*\)$/s.test(value.trim())) return false;
  try {
    FilterParser.parseString(value.trim());
    return true;
  } catch {
    return false;
  }
}

const ldapFilter = z.string().refine(isLdapFilter, 'expected an LDAP filter like (objectClass=inetOrgPerson)');

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  HOST: z.string().default('127.0.0.1'),
  TRUST_PROXY: trustProxy,
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  DATABASE_URL: postgresUrl.default('postgresql://postgres@127.0.0.1:5432/reset_orchestrator'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().min(1).default('reset-orchestrator'),
  SMTP_URL: z.string().url().optional(),
  SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(5),
  MAIL_FROM: z.string().default('Security Team <security@example.invalid>'),
  /** Shown on the sign-in page and in every mail, so users can tell who writes to them. */
  ORGANISATION_NAME: z.string().trim().min(1).max(100).optional(),
  /** How users reach the help desk (a phone number or desk name: notices carry no address or link). */
  HELPDESK_CONTACT: z.string().trim().min(1).max(100).optional(),
  /** The time zone of times shown to users in mails and pages. */
  TIME_ZONE: z
    .string()
    .default('UTC')
    .refine((zone) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    }, 'not a time zone name (e.g. UTC, Europe/Berlin)'),
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
  /** A local copy of the Pwned Passwords range files (`<5 hex>.txt`); new passwords found in it are refused. */
  PASSWORD_PWNED_DIR: z.string().min(1).optional(),
  /** Every account also signs in with a second factor: the nist preset's minimum is then 8 characters, not 15. */
  PASSWORD_MFA: z.enum(['true', 'false']).default('false'),
  PASSWORD_HISTORY: z.coerce.number().int().min(0).max(64).default(5),
  /** RACF preset: 9-character minimum instead of 14 (what the ICHPWX11 exit / KDFAES allow). */
  PASSWORD_RACF_RELAXED: z.enum(['true', 'false']).default('false'),
  /** RACF MINCHANGE: how long after a change a voluntary change is refused (forced resets are never held back). */
  PASSWORD_MIN_CHANGE: duration.optional(),
  /** RACF INTERVAL: days a password stays valid (1-254); unset means passwords never expire. */
  PASSWORD_EXPIRY_DAYS: z.coerce.number().int().min(1).max(254).optional(),
  LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(5),
  LOGIN_FAILURES_PER_IP: z.coerce.number().int().min(1).default(50),
  /** Per-network overrides of the per-IP sign-in failure limit, for known shared egress addresses. */
  LIMIT_NETWORKS: networkLimits,
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
  /** How often a campaign's managers get the digest (first one this long after launch). */
  CAMPAIGN_DIGEST_INTERVAL: duration.default(parseDuration('24h') as never),
  CAMPAIGN_FLAG_BATCH: z.coerce.number().int().min(100).max(50_000).default(10_000),
  NOTICE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(40),
  NOTICE_SEND_BUDGET_MS: z.coerce.number().int().min(1).max(60_000).default(100),
  NOTICE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(10),
  NOTICE_RETRY_DELAY_MS: z.coerce.number().int().min(10).max(3_600_000).default(5_000),
  NOTICE_QUEUE_MAX: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
  /** The operating-system user running resetctl (through sudo: the one who ran sudo), for the audit actor. */
  SUDO_USER: z.string().optional(),
  USER: z.string().optional(),
  WEBHOOK_TIMEOUT: duration.default(parseDuration('10s') as never),
  WEBHOOK_RETRY_DELAY_MS: z.coerce.number().int().min(10).max(3_600_000).default(1_000),
  /** How long a delivery keeps being retried (exponential backoff from WEBHOOK_RETRY_DELAY_MS). */
  WEBHOOK_MAX_AGE: duration.default(parseDuration('72h') as never),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(20),
  /** Most deliveries one worker sends to one application at once, so a slow receiver holds few of the slots. */
  WEBHOOK_APP_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** After rotate-secret, how long the previous secret still signs alongside the new one. */
  WEBHOOK_SECRET_GRACE: duration.default(parseDuration('24h') as never),
  WEBHOOK_DISPATCH_INTERVAL: duration.default(parseDuration('1s') as never),
  /** Envelope senders of notices become bounces+<campaign>.<account>.<mac>@BOUNCE_DOMAIN (VERP). */
  BOUNCE_DOMAIN: z.string().regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/, 'expected a domain name like bounces.example.org').optional(),
  BOUNCE_SMTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  BOUNCE_SMTP_HOST: z.string().min(1).default('127.0.0.1'),
  BOUNCE_IMAP_URL: z
    .string()
    .regex(/^imaps?:\/\/[^:@/\s]+:[^@/\s]+@[^/?#\s]+(\/[^?#\s]*)?$/, 'expected imap://user:password@host[:port][/mailbox] or imaps://…')
    .optional(),
  BOUNCE_IMAP_INTERVAL: duration.default(parseDuration('60s') as never),
  DIRECTORY_URL: z
    .string()
    .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/, 'expected ldap://host[:port] or ldaps://host[:port]')
    .optional(),
  DIRECTORY_KIND: z.enum(['openldap', 'ad']).default('openldap'),
  DIRECTORY_BIND_DN: z.string().min(1).optional(),
  DIRECTORY_BIND_PASSWORD_FILE: z.string().min(1).optional(),
  DIRECTORY_BASE_DN: z.string().min(1).optional(),
  DIRECTORY_USER_FILTER: ldapFilter.optional(),
  DIRECTORY_TLS_CA_FILE: z.string().min(1).optional(),
  DIRECTORY_TIMEOUT: duration.default(parseDuration('10s') as never),
  DIRECTORY_ATTR_USERNAME: z.string().min(1).optional(),
  DIRECTORY_ATTR_MAIL: z.string().min(1).default('mail'),
  DIRECTORY_ATTR_DISPLAY_NAME: z.string().min(1).optional(),
  DIRECTORY_ATTR_ORG_UNIT: z.string().min(1).optional(),
  DIRECTORY_ATTR_LOCALE: z.string().min(1).default('preferredLanguage'),
}).superRefine((c, ctx) => {
  const dkim = [c.DKIM_DOMAIN, c.DKIM_SELECTOR, c.DKIM_PRIVATE_KEY_FILE].filter((v) => v !== undefined).length;
  if (dkim !== 0 && dkim !== 3) {
    ctx.addIssue({ code: 'custom', path: ['DKIM_DOMAIN'], message: 'set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE together, or none of them' });
  }
});

type ParsedEnv = z.infer<typeof configSchema>;

export interface BounceImapConfig {
  host: string;
  port: number;
  /** imaps:// */
  secure: boolean;
  /** imap:// to a host other than loopback must upgrade with STARTTLS: the mailbox password is not sent in clear. */
  requireStartTls: boolean;
  user: string;
  password: string;
  mailbox: string;
  intervalSeconds: number;
}

export interface BounceConfig {
  domain: string;
  smtp?: { host: string; port: number };
  imap?: BounceImapConfig;
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

function bounceConfig(c: ParsedEnv): BounceConfig | undefined {
  if (!c.BOUNCE_DOMAIN) {
    if (c.BOUNCE_SMTP_PORT !== undefined || c.BOUNCE_IMAP_URL) throw new ConfigError('invalid configuration: BOUNCE_DOMAIN: required with BOUNCE_SMTP_PORT or BOUNCE_IMAP_URL');
    return undefined;
  }
  let imap: BounceImapConfig | undefined;
  if (c.BOUNCE_IMAP_URL) {
    const url = new URL(c.BOUNCE_IMAP_URL);
    const secure = url.protocol === 'imaps:';
    const mailbox = decodeURIComponent(url.pathname.replace(/^\//, ''));
    imap = {
      host: url.hostname,
      port: Number(url.port || (secure ? 993 : 143)),
      secure,
      requireStartTls: !secure && !LOOPBACK_HOST.test(url.hostname),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      mailbox: mailbox || 'INBOX',
      intervalSeconds: c.BOUNCE_IMAP_INTERVAL,
    };
  }
  return {
    domain: c.BOUNCE_DOMAIN.toLowerCase(),
    smtp: c.BOUNCE_SMTP_PORT === undefined ? undefined : { host: c.BOUNCE_SMTP_HOST, port: c.BOUNCE_SMTP_PORT },
    imap,
  };
}

/** Where the directory keeps each account field; defaults follow the kind's usual schema (inetOrgPerson, AD user). */
export interface DirectoryAttributes {
  username: string;
  mail: string;
  displayName: string;
  orgUnit: string;
  locale: string;
}

export interface DirectoryConfig {
  url: string;
  kind: 'openldap' | 'ad';
  bindDn: string;
  /** Read from DIRECTORY_BIND_PASSWORD_FILE at boot. */
  bindPassword: string;
  baseDn: string;
  userFilter: string;
  /** PEM CA bundle for ldaps:// (DIRECTORY_TLS_CA_FILE); without it the system's CAs are trusted. */
  tlsCa?: Buffer;
  timeoutMs: number;
  attributes: DirectoryAttributes;
}

const DIRECTORY_DEFAULTS = {
  openldap: { filter: '(objectClass=inetOrgPerson)', username: 'uid', displayName: 'cn', orgUnit: 'ou' },
  ad: { filter: '(&(objectCategory=person)(objectClass=user))', username: 'sAMAccountName', displayName: 'displayName', orgUnit: 'department' },
} as const;

function readSecretFile(name: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new ConfigError(`invalid configuration: ${name}: ${file} is empty`);
  return value;
}

function directoryConfig(c: ParsedEnv): DirectoryConfig | undefined {
  if (!c.DIRECTORY_URL) {
    const stray = Object.keys(c).filter((k) => k.startsWith('DIRECTORY_') && !['DIRECTORY_KIND', 'DIRECTORY_TIMEOUT', 'DIRECTORY_ATTR_MAIL', 'DIRECTORY_ATTR_LOCALE'].includes(k));
    if (stray.some((k) => c[k as keyof ParsedEnv] !== undefined)) throw new ConfigError('invalid configuration: DIRECTORY_URL: required when any other DIRECTORY_ setting is given');
    return undefined;
  }
  const missing = (['DIRECTORY_BIND_DN', 'DIRECTORY_BIND_PASSWORD_FILE', 'DIRECTORY_BASE_DN'] as const).filter((k) => !c[k]);
  if (missing.length) throw new ConfigError(`invalid configuration: ${missing.map((k) => `${k}: required with DIRECTORY_URL`).join('; ')}`);
  const secure = c.DIRECTORY_URL.startsWith('ldaps:');
  // Active Directory only accepts unicodePwd over an encrypted connection; elsewhere sign-in binds would send passwords in clear.
  if (c.DIRECTORY_KIND === 'ad' && !secure) throw new ConfigError('invalid configuration: DIRECTORY_URL: Active Directory sets passwords over LDAPS only; use ldaps://');
  if (!secure && c.NODE_ENV === 'production' && !/^ldap:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?\/?$/.test(c.DIRECTORY_URL)) {
    throw new ConfigError('invalid configuration: DIRECTORY_URL: ldap:// would send every password in clear over the network; use ldaps://');
  }
  if (c.DIRECTORY_TLS_CA_FILE && !secure) throw new ConfigError('invalid configuration: DIRECTORY_TLS_CA_FILE: only used with ldaps://');
  const defaults = DIRECTORY_DEFAULTS[c.DIRECTORY_KIND];
  return {
    url: c.DIRECTORY_URL.replace(/\/$/, ''),
    kind: c.DIRECTORY_KIND,
    bindDn: c.DIRECTORY_BIND_DN!,
    bindPassword: readSecretFile('DIRECTORY_BIND_PASSWORD_FILE', c.DIRECTORY_BIND_PASSWORD_FILE!),
    baseDn: c.DIRECTORY_BASE_DN!,
    userFilter: c.DIRECTORY_USER_FILTER ?? defaults.filter,
    tlsCa: c.DIRECTORY_TLS_CA_FILE ? Buffer.from(readSecretFile('DIRECTORY_TLS_CA_FILE', c.DIRECTORY_TLS_CA_FILE)) : undefined,
    timeoutMs: c.DIRECTORY_TIMEOUT * 1000,
    attributes: {
      username: c.DIRECTORY_ATTR_USERNAME ?? defaults.username,
      mail: c.DIRECTORY_ATTR_MAIL,
      displayName: c.DIRECTORY_ATTR_DISPLAY_NAME ?? defaults.displayName,
      orgUnit: c.DIRECTORY_ATTR_ORG_UNIT ?? defaults.orgUnit,
      locale: c.DIRECTORY_ATTR_LOCALE,
    },
  };
}

export interface AppConfig {
  env: ParsedEnv['NODE_ENV'];
  role: ParsedEnv['ROLE'];
  /** trustProxy: Express' `trust proxy` (false: req.ip is the socket's address). */
  http: { host: string; port: number; publicUrl: string; secureCookies: boolean; trustProxy: false | number | string[] };
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
  /** What users see about who writes to them: the organisation, its help desk, and the zone of every time shown. */
  audience: { organisation?: string; helpdesk?: string; timeZone: string };
  logLevel: ParsedEnv['LOG_LEVEL'];
  /** The audit actor of resetctl commands: `cli:` and the operating-system user. */
  cliActor: string;
  imports: { maxBytes: number; maxLineBytes: number };
  sessions: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  passwords: {
    blocklistFile?: string;
    pwnedDir?: string;
    mfa: boolean;
    historySize: number;
    racfRelaxed: boolean;
    minChangeSeconds?: number;
    expiryDays?: number;
  };
  /** Fixed-window limits kept in Redis, so they hold across API instances. */
  limits: {
    windowSeconds: number;
    loginFailuresPerAccount: number;
    loginFailuresPerIp: number;
    /** Networks whose addresses get their own per-IP sign-in limit (LIMIT_NETWORKS); the narrowest match wins. */
    networks: NetworkLimit[];
    resetLinksPerAccount: number;
    resetLinksPerIp: number;
  };
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
    /** How often a campaign's managers get the digest of counts per org unit. */
    digestIntervalSeconds: number;
  };
  webhooks: {
    timeoutSeconds: number;
    retryDelayMs: number;
    maxAgeSeconds: number;
    concurrency: number;
    perApplicationConcurrency: number;
    secretGraceSeconds: number;
    /** How often workers queue outbox rows nobody has queued yet (a crash between commit and enqueue). */
    dispatchIntervalSeconds: number;
  };
  /** The LDAP / Active Directory server accounts with a directory DN sign in to; unset when there is none. */
  directory?: DirectoryConfig;
  /** VERP envelope senders and where asynchronous bounces come in (BOUNCE_*); unset without BOUNCE_DOMAIN. */
  bounces?: BounceConfig;
}

export class ConfigError extends Error {}

/** The process environment over the shared configuration file (RESET_ORCHESTRATOR_ENV, default ./.env). */
export function configEnvironment(): NodeJS.ProcessEnv {
  try {
    return withEnvFile(process.env);
  } catch (err) {
    if (err instanceof EnvFileError) throw new ConfigError(err.message);
    throw err;
  }
}

/**
 * `$USER` is whatever the caller's environment says: only a login name's characters are kept, so it can neither pose
 * as another kind of actor (`operator:admin`) nor carry line breaks or markup into the audit log.
 */
function cliActor(user: string | undefined): string {
  const name = (user ?? '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return `cli:${name || 'unknown'}`;
}

/**
 * Validates the configuration once at boot; nothing else in the application reads process.env. The service and
 * resetctl both call it without arguments, so both read the same file; tests pass their own variables.
 */
export function loadConfig(env: NodeJS.ProcessEnv = configEnvironment()): AppConfig {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const c = result.data;
  return {
    env: c.NODE_ENV,
    role: c.ROLE,
    http: { host: c.HOST, port: c.PORT, publicUrl: c.PUBLIC_URL.replace(/\/$/, ''), secureCookies: c.PUBLIC_URL.startsWith('https:'), trustProxy: c.TRUST_PROXY },
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
    audience: { organisation: c.ORGANISATION_NAME, helpdesk: c.HELPDESK_CONTACT, timeZone: c.TIME_ZONE },
    logLevel: c.LOG_LEVEL,
    cliActor: cliActor(c.SUDO_USER || c.USER),
    imports: { maxBytes: c.IMPORT_MAX_BYTES, maxLineBytes: c.IMPORT_MAX_LINE_BYTES },
    sessions: { idleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT, absoluteTimeoutSeconds: c.SESSION_ABSOLUTE_TIMEOUT },
    passwords: {
      blocklistFile: c.PASSWORD_BLOCKLIST_FILE,
      pwnedDir: c.PASSWORD_PWNED_DIR,
      mfa: c.PASSWORD_MFA === 'true',
      historySize: c.PASSWORD_HISTORY,
      racfRelaxed: c.PASSWORD_RACF_RELAXED === 'true',
      minChangeSeconds: c.PASSWORD_MIN_CHANGE,
      expiryDays: c.PASSWORD_EXPIRY_DAYS,
    },
    limits: {
      windowSeconds: c.RATE_LIMIT_WINDOW,
      loginFailuresPerAccount: c.LOGIN_FAILURES_PER_ACCOUNT,
      loginFailuresPerIp: c.LOGIN_FAILURES_PER_IP,
      networks: c.LIMIT_NETWORKS,
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
      digestIntervalSeconds: c.CAMPAIGN_DIGEST_INTERVAL,
    },
    webhooks: {
      timeoutSeconds: c.WEBHOOK_TIMEOUT,
      retryDelayMs: c.WEBHOOK_RETRY_DELAY_MS,
      maxAgeSeconds: c.WEBHOOK_MAX_AGE,
      concurrency: c.WEBHOOK_CONCURRENCY,
      perApplicationConcurrency: c.WEBHOOK_APP_CONCURRENCY,
      secretGraceSeconds: c.WEBHOOK_SECRET_GRACE,
      dispatchIntervalSeconds: c.WEBHOOK_DISPATCH_INTERVAL,
    },
    directory: directoryConfig(c),
    bounces: bounceConfig(c),
  };
}
