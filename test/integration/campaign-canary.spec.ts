import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCampaignCommands } from '../../src/cli/commands/campaigns.commands.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { WorkerModule } from '../../src/worker.module.js';
import { runCli } from '../support/cli.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { sleep, until } from '../support/until.js';

const ACCOUNTS = 40;

describe('a canary launch', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let worker: INestApplicationContext;
  let responder: string;

  const post = (path: string, body: unknown = {}) =>
    fetch(`${t.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, NOTICE_CONCURRENCY: '10', CAMPAIGN_SWEEP_INTERVAL: '1s' });
    // A second process's worth of notice workers on the same database and queues.
    worker = await NestFactory.createApplicationContext(WorkerModule.forRoot({ ...t.config, role: 'worker' }), { logger: false });
    responder = await t.operatorToken('responder');
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified, display_name, password_hash)
       SELECT 'cy' || i, 'cy' || i || '@example.org', true, 'Canary ' || i, 'hash' FROM generate_series(1, ${ACCOUNTS}) i`,
    );
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await sink?.stop();
  });

  it('sends exactly N notices across every worker and pauses; launch again says so; resume sends the rest', async () => {
    const created = await post('/api/campaigns', { name: 'Canary', incidentRef: 'INC-5', reason: 'Passwords may have leaked.', scope: 'all', noticeRate: 1000 });
    const { campaign } = (await created.json()) as { campaign: { id: number } };
    expect((await post(`/api/campaigns/${campaign.id}/launch`, { canary: 0 })).status).toBe(400);
    expect((await post(`/api/campaigns/${campaign.id}/launch`, { canary: 1001 })).status).toBe(400);

    const launched = await post(`/api/campaigns/${campaign.id}/launch`, { canary: 5 });
    expect(launched.status).toBe(200);
    await until(() => t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } }), (c) => c.status === 'paused');
    // Sends that were already talking to the server would show up now; none may.
    await sleep(2000);
    const counts = await t.get(CampaignProgressService).counts(campaign.id);
    expect(counts).toMatchObject({ notice_sent: 5, notice_failed: 0, flagged: ACCOUNTS - 5 });
    expect(sink.messages).toHaveLength(5);
    expect(new Set(sink.messages.map((m) => m.to)).size).toBe(5);
    expect(await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).toMatchObject({ status: 'paused', canaryRemaining: 0 });
    const pauses = await t.prisma.auditEntry.findMany({ where: { campaignId: campaign.id, action: 'campaign.pause' } });
    expect(pauses.map((p) => [p.actor, p.details])).toEqual([['system', { from: 'running', canary: 'sent' }]]);
    expect((await t.prisma.auditEntry.findFirstOrThrow({ where: { campaignId: campaign.id, action: 'campaign.launch' } })).details).toMatchObject({ canary: 5 });

    const again = await post(`/api/campaigns/${campaign.id}/launch`);
    expect(again.status).toBe(409);
    expect((await again.json()).message).toBe(`campaign ${campaign.id} was already launched and is paused: continue it with \`resetctl campaign resume\``);

    // resetctl prints the message and exits 1 on a rejected command.
    await expect(runCli(t, registerCampaignCommands, ['campaign', 'launch', String(campaign.id)], { SMTP_URL: sink.url })).rejects.toThrow(
      `campaign ${campaign.id} was already launched and is paused`,
    );

    expect((await post(`/api/campaigns/${campaign.id}/resume`)).status).toBe(200);
    await sink.waitFor(() => sink.messages.length >= ACCOUNTS, 60_000);
    await sleep(500);
    expect(new Set(sink.messages.map((m) => m.to)).size).toBe(ACCOUNTS);
    expect(sink.messages).toHaveLength(ACCOUNTS);
    expect(await t.get(CampaignProgressService).counts(campaign.id)).toMatchObject({ notice_sent: ACCOUNTS, flagged: 0 });
    expect((await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.id } })).canaryRemaining).toBeNull();
    const running = await post(`/api/campaigns/${campaign.id}/launch`);
    expect(running.status).toBe(409);
    expect((await running.json()).message).toBe(`campaign ${campaign.id} was already launched and is running: pause it with \`resetctl campaign pause\``);
  });
});
