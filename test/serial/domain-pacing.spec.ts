import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkProcess } from '../../bench/rows/sink.js';
import { maxInWindow } from '../../bench/support.js';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { PROJECT_ROOT } from '../../src/config/project-root.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// Serial (vitest.serial.config.ts): the receiver's clock measures the pacer, not a machine busy with other suites.
// The receiver runs in its own process, as in notice-throttle.spec.ts.
const GMAIL = 30;
const OTHERS = 40;

async function seed(t: TestApp, prefix: string, domain: string, count: number, orgUnit = 'all'): Promise<void> {
  await t.prisma.$executeRawUnsafe(
    `INSERT INTO accounts (username, email, email_verified, org_unit)
     SELECT '${prefix}' || i, '${prefix}' || i || '@${domain}', true, '${orgUnit}' FROM generate_series(1, ${count}) i`,
  );
}

async function drain(sink: SinkProcess, expected: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (sink.count('notice') < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
}

const arrivalsAt = (sink: SinkProcess, domain: string) =>
  sink.arrivals.filter(([, to, kind]) => kind === 'notice' && to.endsWith(`@${domain}`)).map(([at]) => at).sort((a, b) => a - b);

describe('per-domain pacing', () => {
  let t: TestApp;
  let sink: SinkProcess;

  beforeAll(async () => {
    sink = await SinkProcess.start(path.join(PROJECT_ROOT, 'dist/bench/smtp-sink.js'));
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s' });
    // Interleaved by account id, as real exports are: the queue holds the domains mixed, in id order.
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified)
       SELECT 'u' || i, 'u' || i || '@' || CASE WHEN i <= ${3 * GMAIL} AND i % 3 = 0 THEN 'gmail.test' WHEN i % 2 = 0 THEN 'b.test' ELSE 'c.test' END, true
       FROM generate_series(1, ${GMAIL + 2 * OTHERS}) i`,
    );
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('holds gmail.test to 5 per second at gmail.test=5,*=20 while the other domains go at their own rate', async () => {
    const campaigns = t.get(CampaignsService);
    const { campaign } = await campaigns.create(
      { name: 'Domains', incidentRef: 'INC-3', reason: 'Test.', scope: 'all', noticeRate: 100, domainRates: 'gmail.test=5,*=20' },
      'test',
    );
    await campaigns.launch(campaign.id, 'test', { acceptGaps: true });
    await drain(sink, GMAIL + 2 * OTHERS);

    const gmail = arrivalsAt(sink, 'gmail.test');
    const b = arrivalsAt(sink, 'b.test');
    const c = arrivalsAt(sink, 'c.test');
    console.info(`domain pacing: gmail.test busiest second ${maxInWindow(gmail, 1000)}, b.test ${maxInWindow(b, 1000)}, c.test ${maxInWindow(c, 1000)}`);
    expect([gmail.length, b.length, c.length]).toEqual([GMAIL, OTHERS, OTHERS]);
    expect(maxInWindow(gmail, 1000)).toBeLessThanOrEqual(6);
    expect(maxInWindow(b, 1000)).toBeLessThanOrEqual(23);
    expect(maxInWindow(c, 1000)).toBeLessThanOrEqual(23);
    // Unaffected: 40 at 20/s take about 2 s, while gmail.test's 30 take about 6 s; the others are all in before
    // gmail.test's 20th (about 4 s in), which a pacer holding the whole campaign to gmail.test's pace could not do.
    expect(Math.max(b[b.length - 1], c[c.length - 1])).toBeLessThan(gmail[19]);
    expect((await campaigns.progressOf(campaign.id)).counts.notice_sent).toBe(GMAIL + 2 * OTHERS);
  });
});

describe('global cap across campaigns', () => {
  const PER_CAMPAIGN = 120;
  let t: TestApp;
  let sink: SinkProcess;

  beforeAll(async () => {
    sink = await SinkProcess.start(path.join(PROJECT_ROOT, 'dist/bench/smtp-sink.js'));
    t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s', MAIL_GLOBAL_RATE: '30' });
    await seed(t, 'x', 'x.test', PER_CAMPAIGN, 'unit-x');
    await seed(t, 'y', 'y.test', PER_CAMPAIGN, 'unit-y');
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('keeps two concurrent campaigns at 30 per second each under MAIL_GLOBAL_RATE=30 to at most 31 in any second', async () => {
    const campaigns = t.get(CampaignsService);
    const ids: number[] = [];
    for (const unit of ['unit-x', 'unit-y']) {
      const { campaign } = await campaigns.create({ name: unit, incidentRef: 'INC-4', reason: 'Test.', scope: 'org_unit', orgUnit: unit, noticeRate: 30 }, 'test');
      ids.push(campaign.id);
    }
    await Promise.all(ids.map((id) => campaigns.launch(id, 'test', { acceptGaps: true })));
    await drain(sink, 2 * PER_CAMPAIGN);

    const all = sink.times('notice').sort((a, b) => a - b);
    console.info(`global cap 30/s, two campaigns at 30/s: busiest second ${maxInWindow(all, 1000)}, x.test ${maxInWindow(arrivalsAt(sink, 'x.test'), 1000)}, y.test ${maxInWindow(arrivalsAt(sink, 'y.test'), 1000)}`);
    expect(all).toHaveLength(2 * PER_CAMPAIGN);
    // The global cap's R + 1 send tokens, each held until a second after its send ended, bound the receiver too.
    expect(maxInWindow(all, 1000)).toBeLessThanOrEqual(31);
    // Both campaigns send while the other does, each held below its own 30/s by the shared cap.
    expect(arrivalsAt(sink, 'x.test')[0]).toBeLessThan(arrivalsAt(sink, 'y.test')[PER_CAMPAIGN / 2]);
    expect(arrivalsAt(sink, 'y.test')[0]).toBeLessThan(arrivalsAt(sink, 'x.test')[PER_CAMPAIGN / 2]);
  });
});
