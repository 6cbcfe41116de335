import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import { hash } from '@node-rs/argon2';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createHttpApp } from '../../src/app.factory.js';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { type AppConfig, loadConfig } from '../../src/config/app-config.js';
import { NoticeWorkersService } from '../../src/notifications/notices/notice-workers.service.js';
import { ARGON2_OPTIONS } from '../../src/passwords/password-hasher.service.js';
import { PrismaService } from '../../src/prisma/prisma.service.js';
import type { BenchContext } from '../rows.js';
import { percentile } from '../support.js';
import { SinkProcess, epochMs } from './sink.js';

export const KNOWN = 'bench password 2024!';
export const ACTOR = 'cli:bench';

/** The product running in this process (ROLE=all: API and workers), the SMTP sink child and raw clients for the floors. */
export interface BenchEnv {
  app: INestApplication;
  baseUrl: string;
  config: AppConfig;
  sink: SinkProcess;
  /** A raw pg pool of the same size as the product's, for floors. */
  pool: pg.Pool;
  /** A separate Redis connection for INFO and scratch queues. */
  redis: Redis;
  get<T>(type: new (...args: never[]) => T): T;
}

interface EnvState {
  env?: Promise<BenchEnv>;
  /** Campaign flagging all N accounts, launched by the launch row (or on demand when that row is skipped). */
  campaignId?: number;
  /** Whether the campaign's notices are already running at full speed (after the enqueue row). */
  cleanups: Array<() => Promise<void>>;
}

function envState(ctx: BenchContext): EnvState {
  return ((ctx.state.benchEnv as EnvState | undefined) ??= { cleanups: [] }) as EnvState;
}

/** The product's environment for the benchmark: limits raised so load tests measure work, not refusals. */
export function benchEnvVars(ctx: BenchContext, smtpUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    ROLE: 'all',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: ctx.databaseUrl,
    REDIS_URL: ctx.config.redis.url,
    QUEUE_PREFIX: ctx.config.redis.queuePrefix,
    LOG_LEVEL: 'silent',
    SMTP_URL: smtpUrl,
    LOGIN_FAILURES_PER_ACCOUNT: '1000000',
    LOGIN_FAILURES_PER_IP: '1000000',
    RESET_LINKS_PER_ACCOUNT: '1000000',
    RESET_LINKS_PER_IP: '1000000',
  };
}

export function benchEnv(ctx: BenchContext): Promise<BenchEnv> {
  const state = envState(ctx);
  state.env ??= (async () => {
    const sink = await SinkProcess.start();
    state.cleanups.push(() => sink.stop());
    const config = loadConfig(benchEnvVars(ctx, sink.url));
    const app = await createHttpApp(config);
    await app.listen(0, '127.0.0.1');
    state.cleanups.unshift(() => app.close());
    const { port } = app.getHttpServer().address() as { port: number };
    const pool = new pg.Pool({ connectionString: ctx.databaseUrl, max: config.database.poolSize });
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null });
    state.cleanups.push(() => pool.end(), async () => void redis.disconnect());
    return { app, baseUrl: `http://127.0.0.1:${port}`, config, sink, pool, redis, get: (type) => app.get(type) };
  })();
  return state.env;
}

/** Stops the product, the sink and the clients; run.ts calls it before dropping the database. */
export async function closeBenchResources(ctx: BenchContext): Promise<void> {
  const state = ctx.state.benchEnv as EnvState | undefined;
  if (!state) return;
  for (const cleanup of state.cleanups.splice(0)) await cleanup().catch((err: Error) => process.stderr.write(`bench: cleanup: ${err.message}\n`));
}

export async function passwordHash(ctx: BenchContext): Promise<string> {
  return ((ctx.state.passwordHash as string | undefined) ??= await hash(KNOWN, ARGON2_OPTIONS));
}

/**
 * The N accounts bench1…benchN, as the import row leaves them; created with one INSERT … SELECT when that row was
 * skipped (--rows), so every row can run on its own.
 */
export async function ensureAccounts(ctx: BenchContext, pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts WHERE username LIKE 'bench%'`);
  if (rows[0].n >= ctx.accounts) return;
  process.stderr.write(`bench: seeding ${ctx.accounts} accounts with SQL (the import row did not run)\n`);
  await pool.query(
    `INSERT INTO accounts (username, email, display_name, org_unit, locale, email_verified, password_hash)
     SELECT 'bench' || i, 'bench' || i || '@example.org', 'Bench User ' || i, 'unit' || (i % 20), 'en', true, $2
     FROM generate_series(1, $1::int) AS i
     ON CONFLICT (username) DO NOTHING`,
    [ctx.accounts, await passwordHash(ctx)],
  );
  await pool.query('VACUUM ANALYZE accounts');
}

/** Account id of benchI (ids follow the import order, but never assume it). */
export async function accountIds(pool: pg.Pool, usernames: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: number; username: string }>('SELECT id, username FROM accounts WHERE username = ANY($1::text[])', [usernames]);
  return new Map(rows.map((r) => [r.username, r.id]));
}

export function campaignInput(name: string, noticeRate: number) {
  return {
    name,
    incidentRef: 'INC-BENCH',
    reason: 'We have reason to believe that some passwords may have been exposed in a security incident.',
    scope: 'all' as const,
    noticeRate,
  };
}

/** Polls until the campaign's flagging is done; returns the epoch ms it was first seen done. */
export async function waitForFlagging(env: BenchEnv, campaignId: number, timeoutMs: number): Promise<number> {
  const prisma = env.get(PrismaService);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await prisma.campaign.findUniqueOrThrow({ where: { id: campaignId }, select: { flaggingDoneAt: true } });
    if (c.flaggingDoneAt) return epochMs();
    if (Date.now() > deadline) throw new Error(`campaign ${campaignId}: flagging not done after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function rememberCampaign(ctx: BenchContext, campaignId: number): void {
  envState(ctx).campaignId = campaignId;
}

/** The campaign over all N accounts (launched by the launch row, or here when that row was skipped), paused. */
export async function ensureCampaign(ctx: BenchContext): Promise<number> {
  const state = envState(ctx);
  if (state.campaignId) return state.campaignId;
  const env = await benchEnv(ctx);
  await ensureAccounts(ctx, env.pool);
  const campaigns = env.get(CampaignsService);
  const { campaign } = await campaigns.create(campaignInput('bench: all accounts', 1), ACTOR);
  await campaigns.launch(campaign.id, ACTOR);
  await waitForFlagging(env, campaign.id, 60 * 60_000);
  await campaigns.pause(campaign.id, ACTOR);
  state.campaignId = campaign.id;
  return campaign.id;
}

/** Sets the campaign's rate and makes the in-process notice worker take the new concurrency now, not at the next sweep. */
export async function setRate(env: BenchEnv, campaignId: number, rate: number): Promise<void> {
  await env.get(CampaignsService).setRate(campaignId, rate, ACTOR);
  await env.get(NoticeWorkersService).reconcile();
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Samples Redis used_memory until stopped; `peak` is the largest sample. */
export class RedisMemorySampler {
  peak = 0;
  samples = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly redis: Redis) {}

  start(intervalMs = 200): this {
    this.timer = setInterval(async () => {
      if (this.busy) return;
      this.busy = true;
      try {
        this.peak = Math.max(this.peak, await usedMemory(this.redis));
        this.samples++;
      } finally {
        this.busy = false;
      }
    }, intervalMs);
    return this;
  }

  async stop(): Promise<number> {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, await usedMemory(this.redis));
    return this.peak;
  }
}

/** Redis used_memory when nothing of ours is queued: the median of a few samples (other tenants share the server). */
export async function idleMemory(redis: Redis): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await usedMemory(redis));
    await new Promise((r) => setTimeout(r, 100));
  }
  return samples.sort((a, b) => a - b)[2];
}

export const MB = 1024 * 1024;

// ----- HTTP load ---------------------------------------------------------------------------------------------------

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}

interface AutocannonResult {
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
}

type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, result: AutocannonResult) => void,
) => { on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void };

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadResult {
  count: number;
  ok: number;
  /** Every response's latency, ms, sorted. */
  latencies: number[];
  p50: number;
  p99: number;
  perSecond: number;
  non2xx: number;
  errors: number;
  /** perf_hooks event-loop delay of this process during the run, ms. */
  loopP99: number;
  loopMax: number;
}

/**
 * autocannon (programmatic) against the in-process product, bounded by `amount` and `maxSeconds`. Latencies are
 * taken per response from autocannon's 'response' event (float ms; its histogram rounds to whole ms).
 */
export function httpLoad(opts: {
  url: string;
  connections: number;
  amount: number;
  maxSeconds: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}): Promise<LoadResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const latencies: number[] = [];
  let ok = 0;
  const started = performance.now();
  let lastResponse = started;
  loop.enable();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        amount: opts.amount,
        duration: opts.maxSeconds,
        timeout: 30,
        requests: [{ method: opts.method ?? 'GET', headers: opts.headers, body: opts.body, ...(opts.setupRequest ? { setupRequest: opts.setupRequest } : {}) }],
      },
      (err, result) => {
        loop.disable();
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        resolve({
          count: latencies.length,
          ok,
          latencies,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          // Up to the last response: autocannon's own duration, and its callback, come on a 1-second tick.
          perSecond: (latencies.length / (lastResponse - started)) * 1000,
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts,
          loopP99: loop.percentile(99) / 1e6,
          loopMax: loop.max / 1e6,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      lastResponse = performance.now();
      if (status >= 200 && status < 300) ok++;
    });
  });
}

/** POST /login as a browser sends it (login CSRF cookie and token, JSON), cycling through `usernames`. */
export function loginLoad(
  baseUrl: string,
  csrf: { cookie: string; token: string },
  opts: { usernames: string[]; password: string; connections: number; amount: number },
): Promise<LoadResult> {
  let next = 0;
  return httpLoad({
    url: `${baseUrl}/login`,
    method: 'POST',
    connections: opts.connections,
    amount: opts.amount,
    maxSeconds: 90,
    headers: { accept: 'application/json', 'content-type': 'application/json', cookie: csrf.cookie },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ username: opts.usernames[next++ % opts.usernames.length], password: opts.password, _csrf: csrf.token }) }),
  });
}

// ----- end-user HTTP flow ------------------------------------------------------------------------------------------

function cookieValue(res: Response, name: string): string | undefined {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}

/** A login CSRF cookie and its token, as a browser gets them from GET /login. */
export async function loginCsrf(baseUrl: string): Promise<{ cookie: string; token: string }> {
  const res = await fetch(`${baseUrl}/login`, { headers: { accept: 'application/json' } });
  const body = (await res.json()) as { csrfToken: string };
  const value = cookieValue(res, 'ro_login_csrf');
  if (!value || !body.csrfToken) throw new Error(`GET /login gave no CSRF token (status ${res.status})`);
  return { cookie: `ro_login_csrf=${value}`, token: body.csrfToken };
}

/** Signs in through POST /login and opens the pre-reset page: the session cookie and its CSRF token. */
export async function preResetSession(baseUrl: string, username: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const csrf = await loginCsrf(baseUrl);
  const login = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', cookie: csrf.cookie },
    body: JSON.stringify({ username, password, _csrf: csrf.token }),
  });
  const session = cookieValue(login, 'ro_session');
  const loginBody = (await login.json()) as { kind?: string };
  if (!session || loginBody.kind !== 'pre_reset') throw new Error(`login of ${username} gave ${login.status} ${JSON.stringify(loginBody)}`);
  const cookie = `ro_session=${session}`;
  const page = await fetch(`${baseUrl}/pre-reset`, { headers: { accept: 'application/json', cookie } });
  const pageBody = (await page.json()) as { csrfToken?: string };
  if (!pageBody.csrfToken) throw new Error(`GET /pre-reset gave ${page.status}`);
  return { cookie, csrf: pageBody.csrfToken };
}

export async function sendLink(baseUrl: string, session: { cookie: string; csrf: string }): Promise<void> {
  const res = await fetch(`${baseUrl}/pre-reset/send-link`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': session.csrf },
    body: '{}',
  });
  const body = (await res.json()) as { sent?: boolean };
  if (!body.sent) throw new Error(`send-link gave ${res.status} ${JSON.stringify(body)}`);
}

export function ms(n: number): string {
  return `${n.toFixed(1)} ms`;
}
