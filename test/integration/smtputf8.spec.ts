import { afterAll, describe, expect, it } from 'vitest';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { seedAccount } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const UNICODE = 'kem.garcí0@corp.example';
const ASCII = 'plain.user@corp.example';

/** A campaign to one account with a non-ASCII local part and one without, through `sink`. */
async function campaignThrough(sink: SmtpSink): Promise<{ t: TestApp; states: () => Promise<Record<string, { state: string; noticeError: string | null }>> }> {
  const t = await createTestApp({ SMTP_URL: sink.url, CAMPAIGN_SWEEP_INTERVAL: '1s' });
  for (const email of [UNICODE, ASCII]) await seedAccount(t, { password: `a long password for ${email}`, email });
  const campaigns = t.get(CampaignsService);
  const { campaign } = await campaigns.create({ name: 'SMTPUTF8', incidentRef: 'INC-U', reason: 'Test.', scope: 'all', noticeRate: 50 }, 'test');
  await campaigns.launch(campaign.id, 'test');
  const states = async () => {
    const rows = await t.prisma.campaignAccount.findMany({ where: { campaignId: campaign.id }, include: { account: true } });
    return Object.fromEntries(rows.map((r) => [r.account.email!, { state: r.state, noticeError: r.noticeError }]));
  };
  await until(states, (s) => Object.keys(s).length === 2 && Object.values(s).every((r) => r.state !== 'flagged'));
  return { t, states };
}

describe('addresses that need SMTPUTF8', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });

  it('are sent to over a server that announces SMTPUTF8', async () => {
    const sink = await new SmtpSink().start();
    const { t, states } = await campaignThrough(sink);
    cleanup.push(() => sink.stop(), () => t.close());
    expect(await states()).toEqual({
      [UNICODE]: { state: 'notice_sent', noticeError: null },
      [ASCII]: { state: 'notice_sent', noticeError: null },
    });
    expect(sink.messages.map((m) => m.to).sort()).toEqual([UNICODE, ASCII].sort());
  });

  it('are marked notice_failed with the reason when the server does not announce it; the others still go', async () => {
    const sink = await new SmtpSink({ smtpUtf8: false }).start();
    const { t, states } = await campaignThrough(sink);
    cleanup.push(() => sink.stop(), () => t.close());
    expect(await states()).toEqual({
      [UNICODE]: { state: 'notice_failed', noticeError: 'not sent: the mail server does not announce SMTPUTF8, which this address needs (RFC 6531)' },
      [ASCII]: { state: 'notice_sent', noticeError: null },
    });
    expect(sink.messages.map((m) => m.to)).toEqual([ASCII]);
  });
});
