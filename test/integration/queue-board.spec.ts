import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { seedCampaign } from './dashboard-fixtures.js';

const BOARD = '/admin/queues/api';

describe('the queue board (bull-board)', () => {
  let t: TestApp;
  let admin: string;
  let responder: string;
  let userMail: Queue;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.operatorToken('admin');
    responder = await t.operatorToken('responder');
    userMail = t.app.get<Queue>(getQueueToken('user-mail'), { strict: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  const board = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${t.baseUrl}${BOARD}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const boardAudit = () => t.prisma.auditEntry.findMany({ where: { action: 'queue-board.write' }, orderBy: { id: 'asc' } });

  it('is read-only for responders: no pause, no added or removed job, nothing audited', async () => {
    const parked = await userMail.add('send-user-mail', { kind: 'password-changed', accountId: 1 }, { jobId: 'board-parked-1', delay: 3_600_000 });
    const writes: Array<[string, string, unknown?]> = [
      ['PUT', '/queues/user-mail/pause'],
      ['PUT', '/queues/pause'],
      ['POST', '/queues/user-mail/add', { name: 'send-user-mail', data: { kind: 'reset-link', accountId: 1 } }],
      ['PUT', `/queues/user-mail/${parked.id}/clean`],
      ['PUT', `/queues/user-mail/${parked.id}/promote`],
      ['PUT', '/queues/user-mail/empty'],
    ];
    for (const [method, path, body] of writes) {
      const res = await board(responder, method, path, body);
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
    }
    expect(await userMail.isPaused()).toBe(false);
    expect(await userMail.getJobState(parked.id!)).toBe('delayed');
    expect(await userMail.getJobCounts('wait', 'delayed', 'active')).toEqual({ wait: 0, delayed: 1, active: 0 });
    expect(await boardAudit()).toEqual([]);
    // Reading still works.
    const list = await board(responder, 'GET', '/queues');
    expect(list.status).toBe(200);
    const queues = ((await list.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues;
    expect(queues.find((q) => q.name === 'user-mail')?.readOnlyMode).toBe(true);
  });

  it('is writable for admins, and every write is audited with its queue, action and job', async () => {
    expect((await board(admin, 'PUT', '/queues/user-mail/pause')).status).toBe(200);
    expect(await userMail.isPaused()).toBe(true);
    expect((await board(admin, 'PUT', '/queues/user-mail/resume')).status).toBe(200);
    expect(await userMail.isPaused()).toBe(false);
    expect((await board(admin, 'PUT', '/queues/user-mail/board-parked-1/clean')).status).toBe(204);
    expect(await userMail.getJob('board-parked-1')).toBeUndefined();

    const entries = await boardAudit();
    expect(entries.map((e) => ({ actor: e.actor, details: e.details }))).toEqual([
      { actor: 'operator:admin1', details: { queue: 'user-mail', action: 'pause', status: 200 } },
      { actor: 'operator:admin1', details: { queue: 'user-mail', action: 'resume', status: 200 } },
      { actor: 'operator:admin1', details: { queue: 'user-mail', action: 'clean', jobId: 'board-parked-1', status: 204 } },
    ]);
  });

  it('shows each running or paused campaign’s own notice queue as campaigns get one', async () => {
    const names = async (token: string) =>
      (((await (await board(token, 'GET', '/queues')).json()) as { queues: Array<{ name: string }> }).queues).map((q) => q.name).sort();
    expect(await names(responder)).toEqual(['campaigns', 'user-mail', 'webhooks']);
    const { campaignId } = await seedCampaign(t, { accounts: 2, status: 'paused' });
    const { campaignId: draft } = await seedCampaign(t, { accounts: 1, status: 'draft' });
    expect(await names(responder)).toEqual(['campaigns', `notices-${campaignId}`, 'user-mail', 'webhooks']);
    expect(await names(admin)).toEqual(['campaigns', `notices-${campaignId}`, 'user-mail', 'webhooks']);
    expect(draft).toBeGreaterThan(campaignId);
    await t.prisma.campaign.update({ where: { id: campaignId }, data: { status: 'completed' } });
    expect(await names(responder)).toEqual(['campaigns', 'user-mail', 'webhooks']);
  });
});
