import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp } from '../../../src/app.factory.js';
import { loadConfig } from '../../../src/config/app-config.js';
import { NoticeQueueService } from '../../../src/notifications/notices/notice-queue.service.js';
import { OperatorsService } from '../../../src/operators/operators.service.js';
import { applyMigrations, dropDatabase, ensureDatabase } from '../../../src/prisma/migrations.js';
import { PrismaService } from '../../../src/prisma/prisma.service.js';
import { CampaignProgressService } from '../../../src/progress/campaign-progress.service.js';
import type { StateCounts } from '../../../src/progress/progress-states.js';
import { CSV_HEADER, accountRow, csvLine } from '../../support/factories.js';
import { SmtpSink } from '../../support/smtp-sink.js';
import { TEST_SERVER_URL } from '../../support/test-database.js';
import { PrivatePostgres, PrivateRedis, WorkerProcess } from './processes.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FaultRunOptions {
  name: string;
  accounts: number;
  noticeRate: number;
  workers?: number;
  /** Run the database on a private cluster this run may stop (the shared server is never touched). */
  privatePostgres?: boolean;
  /** Extra settings for the API and the worker processes. */
  env?: Record<string, string>;
  /** Accounts (by factory index) whose address the sink refuses for good with 550. */
  refused?: (i: number) => boolean;
  /** How long the run may take to settle after the fault, in ms. */
  settleTimeoutMs?: number;
  /** Injects the fault while the campaign sends; returns when the fault is over. */
  inject(run: FaultRun): Promise<void>;
}

export interface FaultFigures {
  scenario: string;
  accounts: number;
  delivered: number;
  expectedDelivered: number;
  /** Deliveries beyond the first to the same recipient. */
  duplicates: number;
  /** How many of those carried the Message-ID of the first (a receiver can drop them). */
  duplicatesSameMessageId: number;
  /** Accounts that should have a notice and got none, or are marked sent without a delivery. */
  lost: number;
  failed: number;
  /** From the end of each fault to the next notice accepted by the sink, worst case, in ms. */
  recoveryMs: number | null;
  /** From launch until everything settled, in ms. */
  runMs: number;
  countersMatch: boolean;
  stuck: number;
  notes: string[];
}

export class FaultRun {
  readonly sink = new SmtpSink();
  readonly redis = new PrivateRedis();
  readonly postgres?: PrivatePostgres;
  readonly workers: WorkerProcess[] = [];
  readonly faultEnds: number[] = [];
  readonly notes: string[] = [];
  app!: INestApplication;
  baseUrl = '';
  campaignId = 0;
  private databaseUrl = '';
  private responderToken = '';
  private workerEnv: Record<string, string> = {};

  constructor(readonly options: FaultRunOptions) {
    if (options.privatePostgres) this.postgres = new PrivatePostgres();
  }

  get prisma(): PrismaService {
    return this.app.get(PrismaService);
  }

  async setUp(): Promise<void> {
    await this.sink.start();
    await this.redis.start();
    if (this.postgres) await this.postgres.start();
    const server = this.postgres?.serverUrl ?? TEST_SERVER_URL;
    this.databaseUrl = `${server}/ro_fault_${process.pid}_${randomBytes(4).toString('hex')}`;
    await ensureDatabase(this.databaseUrl);
    await applyMigrations(this.databaseUrl);
    const refused = this.options.refused;
    if (refused) {
      this.sink.behaviour = (rcpt) => {
        const i = Number(/^user(\d+)@/.exec(rcpt)?.[1]);
        return refused(i) ? { code: 550, message: '5.1.1 mailbox unavailable' } : undefined;
      };
    }
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      QUEUE_PREFIX: `fault-${randomBytes(4).toString('hex')}`,
      SMTP_URL: this.sink.url,
      CAMPAIGN_SWEEP_INTERVAL: '1s',
      NOTICE_RETRY_DELAY_MS: '250',
      NOTICE_MAX_ATTEMPTS: '12',
      ...this.options.env,
    };
    this.workerEnv = { ...env, LOG_LEVEL: 'warn' };
    this.app = await createHttpApp(loadConfig({ ...env, ROLE: 'api', PORT: '0', LOG_LEVEL: 'silent' }));
    await this.app.listen(0, '127.0.0.1');
    this.baseUrl = `http://127.0.0.1:${(this.app.getHttpServer().address() as { port: number }).port}`;
    this.responderToken = (await this.app.get(OperatorsService).create('fault-responder', 'responder', 'test')).token;
    for (let i = 0; i < (this.options.workers ?? 2); i++) this.workers.push(new WorkerProcess(this.workerEnv).start());
  }

  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.responderToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  }

  async post(path: string, body: unknown = {}): Promise<Response> {
    return this.api(path, { method: 'POST', body: JSON.stringify(body) });
  }

  /** Accounts through the product's import API, then a campaign over all of them, created and launched over HTTP. */
  async launch(): Promise<void> {
    const lines = [CSV_HEADER];
    for (let i = 1; i <= this.options.accounts; i++) lines.push(csvLine(accountRow(i)));
    const imported = await this.api('/api/accounts/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${lines.join('\n')}\n` });
    if (imported.status !== 200) throw new Error(`import answered ${imported.status}: ${await imported.text()}`);
    const summary = (await imported.json()) as { created: number };
    if (summary.created !== this.options.accounts) throw new Error(`import created ${summary.created} accounts`);
    const created = await this.post('/api/campaigns', {
      name: `Fault run: ${this.options.name}`,
      incidentRef: 'INC-FAULT',
      reason: 'We found signs that passwords may have been copied from one of our systems.',
      scope: 'all',
      noticeRate: this.options.noticeRate,
    });
    if (created.status !== 201) throw new Error(`campaign create answered ${created.status}: ${await created.text()}`);
    this.campaignId = ((await created.json()) as { campaign: { id: number } }).campaign.id;
    // The imported accounts have no password hash: a gap accepted, these runs are about delivery.
    const launched = await this.post(`/api/campaigns/${this.campaignId}/launch`, { acceptGaps: true });
    if (launched.status !== 200) throw new Error(`launch answered ${launched.status}: ${await launched.text()}`);
  }

  /** Notices accepted by the sink so far. */
  get delivered(): number {
    return this.sink.messages.length;
  }

  async waitForDelivered(n: number, timeoutMs = 120_000): Promise<void> {
    await this.sink.waitFor(() => this.sink.messages.length >= n, timeoutMs);
  }

  /** Marks the moment a fault ended; the next accepted notice measures the time to recover. */
  faultEnded(): void {
    this.faultEnds.push(Date.now());
  }

  async killWorker(index: number): Promise<void> {
    await this.workers[index].kill9();
  }

  restartWorker(index: number): void {
    this.workers[index] = new WorkerProcess(this.workerEnv).start();
  }

  private async settled(): Promise<{ done: boolean; counts: StateCounts; backlog: number }> {
    const counts = await this.app.get(CampaignProgressService).recount(this.campaignId);
    const backlog = await this.app.get(NoticeQueueService).backlog(this.campaignId);
    const campaign = await this.prisma.campaign.findUniqueOrThrow({ where: { id: this.campaignId } });
    const done =
      campaign.flaggingDoneAt !== null && counts.flagged === 0 && counts.notice_sent + counts.notice_failed === this.options.accounts && backlog === 0;
    return { done, counts, backlog };
  }

  /** Waits until no account is left flagged and the campaign's queue has drained, then a little more for stragglers. */
  async settle(): Promise<void> {
    const deadline = Date.now() + (this.options.settleTimeoutMs ?? 180_000);
    let last: Awaited<ReturnType<FaultRun['settled']>> | undefined;
    for (;;) {
      last = await this.settled().catch(() => last);
      if (last?.done) break;
      if (Date.now() > deadline) throw new Error(`${this.options.name}: did not settle: ${JSON.stringify({ counts: last?.counts, backlog: last?.backlog, delivered: this.delivered })}\n${this.workerOutput()}`);
      await sleep(500);
    }
    const count = this.delivered;
    await sleep(2000);
    if (this.delivered !== count) this.notes.push(`${this.delivered - count} notices arrived after the campaign looked settled`);
  }

  workerOutput(): string {
    return this.workers.map((w, i) => `--- worker ${i}\n${w.output.slice(-3000)}`).join('\n');
  }

  /** Checks the sink against the database and returns the run's figures. */
  async figures(launchedAt: number): Promise<FaultFigures> {
    const refused = this.options.refused ?? (() => false);
    const byRecipient = new Map<string, string[]>();
    for (const m of this.sink.messages) byRecipient.set(m.to, [...(byRecipient.get(m.to) ?? []), m.parsed.messageId ?? '']);
    let duplicates = 0;
    let duplicatesSameMessageId = 0;
    for (const ids of byRecipient.values()) {
      duplicates += ids.length - 1;
      duplicatesSameMessageId += ids.filter((id) => id === ids[0]).length - 1;
    }
    const rows = await this.prisma.$queryRawUnsafe<Array<{ email: string; username: string; state: string; notice_error: string | null }>>(
      `SELECT a.email, a.username, ca.state::text AS state, ca.notice_error FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id WHERE ca.campaign_id = $1`,
      this.campaignId,
    );
    let lost = 0;
    let expectedDelivered = 0;
    let failed = 0;
    const problems: string[] = [];
    for (const row of rows) {
      const i = Number(/^user(\d+)$/.exec(row.username)?.[1]);
      const received = byRecipient.get(row.email)?.length ?? 0;
      if (row.state === 'notice_failed') failed += 1;
      if (refused(i)) {
        if (received > 0) problems.push(`${row.email} is refused by the sink but received ${received}`);
        if (row.state !== 'notice_failed' || !row.notice_error?.includes('550')) problems.push(`${row.email}: refused, but ${row.state} ${row.notice_error ?? ''}`);
        continue;
      }
      expectedDelivered += 1;
      if (received === 0 || row.state !== 'notice_sent') lost += 1;
    }
    if (rows.length !== this.options.accounts) problems.push(`${rows.length} accounts flagged of ${this.options.accounts}`);
    const progress = this.app.get(CampaignProgressService);
    const [counts, recount] = await Promise.all([progress.counts(this.campaignId), progress.recount(this.campaignId)]);
    const backlog = await this.app.get(NoticeQueueService).backlog(this.campaignId);
    const stuck = rows.filter((r) => r.state === 'flagged').length + backlog;
    const times = this.sink.messages.map((m) => m.receivedAt).sort((a, b) => a - b);
    const recoveries = this.faultEnds.map((end) => {
      const next = times.find((t) => t >= end);
      return next === undefined ? Number.POSITIVE_INFINITY : next - end;
    });
    this.notes.push(...problems.slice(0, 5));
    return {
      scenario: this.options.name,
      accounts: this.options.accounts,
      delivered: byRecipient.size,
      expectedDelivered,
      duplicates,
      duplicatesSameMessageId,
      lost,
      failed,
      recoveryMs: recoveries.length ? Math.max(...recoveries) : null,
      runMs: Date.now() - launchedAt,
      countersMatch: JSON.stringify(counts) === JSON.stringify(recount),
      stuck,
      notes: [...this.notes],
      ...(problems.length ? { problems } : {}),
    };
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop().catch(() => undefined)));
    await this.app?.close().catch(() => undefined);
    await this.sink.stop().catch(() => undefined);
    await this.redis.kill().catch(() => undefined);
    if (this.postgres) await this.postgres.destroy().catch(() => undefined);
    else if (this.databaseUrl) await dropDatabase(this.databaseUrl).catch(() => undefined);
  }
}

/** Sets up a run, launches, injects the fault, waits for the campaign to settle and returns its figures. */
export async function runFault(options: FaultRunOptions): Promise<FaultFigures & { problems?: string[] }> {
  const run = new FaultRun(options);
  try {
    await run.setUp();
    const started = Date.now();
    await run.launch();
    await run.options.inject(run);
    await run.settle();
    return await run.figures(started);
  } catch (err) {
    (err as Error).message += `\n${run.workerOutput()}`;
    throw err;
  } finally {
    await run.tearDown();
  }
}

/**
 * The checks every run ends with: one notice per reachable account, nothing lost or stuck, counters exact, every
 * resend with the first send's Message-ID (receivers drop it), and at most 0.1% duplicates. `crashResends` raises the
 * duplicate bound for a run too small for 0.1% to cover the resends its kills force (the quick run in `npm test`).
 */
export function expectSound(f: FaultFigures & { problems?: string[] }, crashResends = 0): void {
  expect(f.problems ?? [], 'sink and database disagree').toEqual([]);
  expect(f.lost, 'lost notices').toBe(0);
  expect(f.stuck, 'accounts still flagged or jobs still queued').toBe(0);
  expect(f.countersMatch, 'counts() equals recount()').toBe(true);
  expect(f.delivered, 'delivered to every reachable account').toBe(f.expectedDelivered);
  expect(f.duplicatesSameMessageId, 'every resend carries the first Message-ID').toBe(f.duplicates);
  expect(f.duplicates, 'duplicates').toBeLessThanOrEqual(Math.max(Math.floor(f.accounts * 0.001), crashResends));
}
