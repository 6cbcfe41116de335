import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectSound, runFault, sleep } from '../faults/support/fault-run.js';

const ACCOUNTS = 800;

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The fault run in small (the full ones are `npm run test:faults`): 800 accounts sent by two worker processes while
 * one is killed with -9, the run's private Redis restarts, the SMTP server answers 421 for a while and the campaign
 * is paused and resumed. Every account must end with exactly one notice, counters exact, nothing stuck.
 */
describe('fault run (quick)', () => {
  // Worker processes run the built service (npm test builds first) against a Redis server of the run's own.
  it.skipIf(!existsSync('dist/src/main.js') || !hasRedisServer())(
    `${ACCOUNTS} accounts survive kill -9, a Redis restart, a 421 burst and pause/resume with one notice each`,
    async () => {
      const figures = await runFault({
        name: 'quick: kill -9, Redis restart, 421 burst, pause/resume',
        accounts: ACCOUNTS,
        noticeRate: 40,
        settleTimeoutMs: 90_000,
        async inject(run) {
          await run.waitForDelivered(60, 30_000);
          await run.killWorker(0);
          run.restartWorker(0);
          run.faultEnded();

          await run.waitForDelivered(200, 30_000);
          await run.redis.restart();
          run.faultEnded();

          await run.waitForDelivered(300, 60_000);
          run.sink.behaviour = () => ({ code: 421, message: '4.7.0 try again later' });
          await sleep(2000);
          run.sink.behaviour = () => undefined;
          run.faultEnded();

          for (let i = 0; i < 3; i++) {
            await sleep(500 + Math.random() * 1000);
            expect((await run.post(`/api/campaigns/${run.campaignId}/pause`)).status).toBe(200);
            await sleep(300 + Math.random() * 700);
            expect((await run.post(`/api/campaigns/${run.campaignId}/resume`)).status).toBe(200);
          }
        },
      });
      // 40 notices/s with a 40 ms send budget: two sends in flight, so a crash may resend two.
      expectSound(figures, 2);
      expect(figures.failed).toBe(0);
    },
    120_000,
  );
});
