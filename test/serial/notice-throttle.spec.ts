import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkProcess } from '../../bench/rows/sink.js';
import { maxInWindow } from '../../bench/support.js';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { NoticePacerService } from '../../src/notifications/notices/notice-pacer.service.js';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// Runs on its own after the other suites (vitest.serial.config.ts), so the rate it measures is the throttle's,
// not how busy the machine is with other tests.
const RATE = 50;
const THROTTLED = 300;
/**
 * Arrivals at the receiver also carry the machine's stalls: a send held up 50-80 ms after its paced start (these
 * VMs lose the CPU for that long now and then) lands next to the following one, and a one-second span then holds
 * R + 2 or R + 3. The strict R + 1 is asserted on the send starts the pacer grants, which are the product's own
 * doing; at the receiver the test only catches what a broken pacer does (the queue limiter alone reached R + 8), and
 * the benchmark's throttle row reports the receiver's busiest second against R + 1.
 */
const RECEIVER_SLACK = 3;

describe('notice throttle', () => {
  let t: TestApp;
  // The receiving server in a process of its own (the benchmark's sink, built by `npm test`), as a real one is: it
  // stamps each message when its DATA ends, so a stall of the sending process cannot bunch the stamps themselves.
  let sink: SinkProcess;

  beforeAll(async () => {
    sink = await SinkProcess.start(path.join(PROJECT_ROOT, 'dist/bench/smtp-sink.js'));
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s' });
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified) SELECT 't' || i, 't' || i || '@example.org', true FROM generate_series(1, ${THROTTLED}) i`,
    );
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it(`starts at most ${RATE} + 1 sends in any second, and the receiver gets ${RATE} per second on average`, async () => {
    const pacer = t.get(NoticePacerService);
    const paced = pacer.waitForSlot.bind(pacer);
    const starts: number[] = [];
    pacer.waitForSlot = async (pace) => {
      const result = await paced(pace);
      if (!result) starts.push(performance.now());
      return result;
    };
    const campaigns = t.get(CampaignsService);
    const { campaign } = await campaigns.create({ name: 'Throttle', incidentRef: 'INC-2', reason: 'Test.', scope: 'all', noticeRate: RATE }, 'test');
    // The accounts have no password: a gap accepted, the test is about the throttle.
    await campaigns.launch(campaign.id, 'test', { acceptGaps: true });
    const deadline = Date.now() + 60_000;
    while (sink.count('notice') < THROTTLED && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const received = sink.times('notice').sort((a, b) => a - b);

    expect(received).toHaveLength(THROTTLED);
    expect(starts).toHaveLength(THROTTLED);
    const mean = (times: number[]) => ((times.length - 1) * 1000) / (times[times.length - 1] - times[0]);
    console.info(
      `throttle ${RATE}/s over ${THROTTLED} notices: send starts busiest second ${maxInWindow(starts, 1000)}, mean ${mean(starts).toFixed(2)}/s; ` +
        `receiver busiest second ${maxInWindow(received, 1000)}, mean ${mean(received).toFixed(2)}/s`,
    );
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(RATE + 1);
    expect(maxInWindow(received, 1000)).toBeLessThanOrEqual(RATE + RECEIVER_SLACK);
    // Never faster than the rate on average; slower only by what a loaded 2-core machine costs (seen 8.6% under with
    // two other test runs beside it, under 2% on its own). The bench measures the mean's accuracy as a ratio.
    expect(mean(received)).toBeLessThanOrEqual(RATE * 1.01);
    expect(mean(received)).toBeGreaterThan(RATE * 0.85);
    expect((await campaigns.progressOf(campaign.id)).counts.notice_sent).toBe(THROTTLED);
  });
});
