import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// Runs on its own after the other suites (vitest.serial.config.ts), so the rate it measures is the throttle's,
// not how busy the machine is with other tests.
const RATE = 50;
const THROTTLED = 300;

/** The most messages received within any one-second span. */
function busiestSecond(times: number[]): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('notice throttle', () => {
  let t: TestApp;
  let server: SMTPServer;
  // Stamped when the message's DATA ends, without parsing it, so the receiver's own work adds no jitter.
  const received: number[] = [];

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      disableReverseLookup: true,
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          received.push(performance.now());
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as AddressInfo).port;
    t = await createTestApp({ SMTP_URL: `smtp://127.0.0.1:${port}?tls=off`, CAMPAIGN_SWEEP_INTERVAL: '1s' });
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified) SELECT 't' || i, 't' || i || '@example.org', true FROM generate_series(1, ${THROTTLED}) i`,
    );
  });

  afterAll(async () => {
    await t?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it(`sends at most ${RATE} + 1 notices in any second, and on average ${RATE} per second`, async () => {
    const campaigns = t.get(CampaignsService);
    const { campaign } = await campaigns.create({ name: 'Throttle', incidentRef: 'INC-2', reason: 'Test.', scope: 'all', noticeRate: RATE }, 'test');
    await campaigns.launch(campaign.id, 'test');
    const deadline = Date.now() + 60_000;
    while (received.length < THROTTLED && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));

    expect(received).toHaveLength(THROTTLED);
    const busiest = busiestSecond(received);
    const mean = ((received.length - 1) * 1000) / (received[received.length - 1] - received[0]);
    console.info(`throttle ${RATE}/s over ${THROTTLED} notices: busiest second ${busiest}, mean ${mean.toFixed(2)}/s`);
    expect(busiest).toBeLessThanOrEqual(RATE + 1);
    expect(Math.abs(mean - RATE) / RATE).toBeLessThan(0.05);
    expect((await campaigns.progressOf(campaign.id)).counts.notice_sent).toBe(THROTTLED);
  });
});
