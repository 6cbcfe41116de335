import { mkdirSync, writeFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultFigures, type FaultRun, expectSound, runFault, sleep } from './support/fault-run.js';
import { PrivatePostgres } from './support/processes.js';

const ACCOUNTS = 5000;
const RATE = 250;
/**
 * The kill -9 run's campaign. Each kill comes the moment the sink accepts the k × 2,800th notice, as its 250 leaves:
 * when the killed worker sent it, it dies before it can read the reply, so that notice is resent whatever the sender
 * does (RFC 1047). Five kills resent 2 to 9 notices across runs, which at 5,000 accounts would often exceed 0.1%.
 */
const KILL_RUN_ACCOUNTS = 20_000;
const RESULTS = 'test-output/fault-figures.jsonl';
const TABLE = 'test-output/fault-figures.md';

async function record(figures: FaultFigures): Promise<void> {
  await appendFile(RESULTS, `${JSON.stringify(figures)}\n`);
  console.log(JSON.stringify(figures));
}

function seconds(ms: number | null): string {
  return ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`;
}

/** Polls a URL until it answers `status`, returning how long that took. */
async function until(url: string, status: number, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await fetch(url).catch(() => undefined);
    await res?.arrayBuffer().catch(() => undefined);
    if (res?.status === status) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last ${res?.status})`);
    await sleep(200);
  }
}

/**
 * Jepsen-style runs: a campaign of 5,000 accounts (20,000 for kill -9) sent by worker processes (ROLE=worker, from
 * dist/) into a real SMTP sink while one fault is injected; the API runs in this process (ROLE=api). Each run ends by
 * checking the sink against the database: one notice per reachable account, nothing lost, counters equal COUNT(*),
 * nothing stuck.
 */
describe('fault runs', () => {
  beforeAll(() => {
    mkdirSync('test-output', { recursive: true });
    writeFileSync(RESULTS, '');
  });

  afterAll(async () => {
    const rows = (await readFile(RESULTS, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultFigures);
    const table = [
      '| Fault | Accounts | Delivered / expected | Duplicates (same Message-ID) | Lost | notice_failed | Counters = COUNT(*) | Stuck | Time to recover | Run time |',
      '|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|',
      ...rows.map(
        (f) =>
          `| ${f.scenario} | ${f.accounts} | ${f.delivered} / ${f.expectedDelivered} | ${f.duplicates} (${f.duplicatesSameMessageId}) | ${f.lost} | ${f.failed} | ${f.countersMatch ? 'yes' : 'NO'} | ${f.stuck} | ${seconds(f.recoveryMs)} | ${seconds(f.runMs)} |`,
      ),
      '',
      ...rows.flatMap((f) => (f.notes.length ? [`- ${f.scenario}: ${f.notes.join('; ')}`] : [])),
    ];
    writeFileSync(TABLE, `${table.join('\n')}\n`);
  });

  it('kill -9 of a worker process 5 times during sending', async () => {
    const figures = await runFault({
      name: 'kill -9 of a worker, 5 times (restarted each time)',
      accounts: KILL_RUN_ACCOUNTS,
      noticeRate: RATE,
      async inject(run) {
        for (let k = 1; k <= 5; k++) {
          await run.waitForDelivered(k * 2800);
          await run.killWorker(k % 2);
          run.restartWorker(k % 2);
          run.faultEnded();
        }
      },
    });
    await record(figures);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it('Redis restarted mid-campaign, its queues lost', async () => {
    const figures = await runFault({
      name: 'Redis restarted (3 s down, all queue state lost)',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      async inject(run) {
        await run.waitForDelivered(1500);
        await run.redis.kill();
        await sleep(3000);
        await run.redis.start();
        run.faultEnded();
      },
    });
    await record(figures);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it.skipIf(!PrivatePostgres.available())('PostgreSQL restarted mid-campaign: 503 meanwhile, recovers by itself', async () => {
    const during = { health: new Set<number>(), api: new Set<number>() };
    let healthBackMs = 0;
    let apiBackMs = 0;
    const figures = await runFault({
      name: 'PostgreSQL restarted (private cluster, immediate stop, 8 s down)',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      privatePostgres: true,
      async inject(run: FaultRun) {
        await run.waitForDelivered(1500);
        await run.postgres!.stop();
        const downUntil = Date.now() + 8000;
        while (Date.now() < downUntil) {
          const [health, api] = await Promise.all([fetch(`${run.baseUrl}/health`), run.api(`/api/campaigns/${run.campaignId}/progress`)]);
          during.health.add(health.status);
          during.api.add(api.status);
          await Promise.all([health.arrayBuffer(), api.arrayBuffer()]);
          await sleep(500);
        }
        await run.postgres!.start();
        run.faultEnded();
        healthBackMs = await until(`${run.baseUrl}/health`, 200);
        const started = Date.now();
        for (;;) {
          const res = await run.api(`/api/campaigns/${run.campaignId}/progress`);
          await res.arrayBuffer();
          if (res.status === 200) break;
          if (Date.now() - started > 60_000) throw new Error(`the API still answers ${res.status}`);
          await sleep(200);
        }
        apiBackMs = Date.now() - started;
        run.notes.push(
          `while down: /health answered ${[...during.health].join('/')}, /api/campaigns/:id/progress answered ${[...during.api].join('/')}; ` +
            `after restart /health was 200 again in ${seconds(healthBackMs)}, the API in ${seconds(apiBackMs)} more`,
        );
      },
    });
    await record(figures);
    expect([...during.health]).toEqual([503]);
    expect([...during.api]).toEqual([503]);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it('SMTP answers 421/451 for 30 s, then recovers', async () => {
    const figures = await runFault({
      name: 'SMTP 421/451 for 30 s, then accepts',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      async inject(run) {
        await run.waitForDelivered(1000);
        run.sink.behaviour = () =>
          Math.random() < 0.5 ? { code: 421, message: '4.7.0 too busy, try again later' } : { code: 451, message: '4.3.0 local error, try again' };
        await sleep(30_000);
        run.sink.behaviour = () => undefined;
        run.faultEnded();
      },
    });
    await record(figures);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it('SMTP answers 550 for a chosen set of addresses', async () => {
    const refused = (i: number) => i % 37 === 0;
    const figures = await runFault({
      name: 'SMTP 550 for every 37th address',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      refused,
      async inject() {},
    });
    await record(figures);
    expectSound(figures);
    expect(figures.failed).toBe(Math.floor(ACCOUNTS / 37));
  });

  it('SMTP drops connections mid-DATA', async () => {
    let dropped = 0;
    const figures = await runFault({
      name: 'connections dropped mid-DATA (1 in 10 for 15 s)',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      async inject(run) {
        await run.waitForDelivered(500);
        run.sink.dropDuringData = () => Math.random() < 0.1 && ++dropped > 0;
        await sleep(15_000);
        run.sink.dropDuringData = () => false;
        run.faultEnded();
        run.notes.push(`${dropped} connections dropped`);
      },
    });
    await record(figures);
    expect(dropped).toBeGreaterThan(50);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it('SMTP answers slowly: 10 s per message (a small campaign)', async () => {
    const figures = await runFault({
      name: 'SMTP answers in 10 s per message (40 accounts only)',
      accounts: 40,
      noticeRate: RATE,
      env: { SMTP_POOL_SIZE: '10' },
      async inject(run) {
        run.sink.dataDelayMs = 10_000;
      },
    });
    await record(figures);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });

  it('a campaign paused and resumed 20 times at random moments', async () => {
    let sentWhilePaused = 0;
    const figures = await runFault({
      name: 'paused and resumed 20 times at random moments',
      accounts: ACCOUNTS,
      noticeRate: RATE,
      async inject(run) {
        await run.waitForDelivered(200);
        const windows: Array<[number, number]> = [];
        for (let i = 0; i < 20; i++) {
          await sleep(200 + Math.random() * 1300);
          const paused = await run.post(`/api/campaigns/${run.campaignId}/pause`);
          expect(paused.status).toBe(200);
          const from = Date.now();
          await sleep(200 + Math.random() * 1800);
          const resumeAt = Date.now();
          expect((await run.post(`/api/campaigns/${run.campaignId}/resume`)).status).toBe(200);
          windows.push([from, resumeAt]);
          run.faultEnded();
        }
        // A send already talking to the server when the pause commits may finish; nothing may start later.
        sentWhilePaused = run.sink.messages.filter((m) => windows.some(([from, to]) => m.receivedAt > from + 500 && m.receivedAt < to)).length;
        run.notes.push(`${sentWhilePaused} notices arrived more than 0.5 s into a pause`);
      },
    });
    await record(figures);
    expect(sentWhilePaused).toBe(0);
    expectSound(figures);
    expect(figures.failed).toBe(0);
  });
});
