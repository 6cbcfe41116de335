import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationsService } from '../../src/integrations/applications/applications.service.js';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { createCampaign, flagAccounts, seedAccount } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn } from './dashboard-fixtures.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Write routes on the Express router whose Nest handler declares no @Body(), as "METHOD /path". */
function bodylessRoutes(t: TestApp): string[] {
  const declaresBody = new Map<string, boolean>();
  const join = (...parts: string[]) => `/${parts.flatMap((p) => p.split('/')).filter(Boolean).join('/')}`;
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new () => unknown) | null;
      if (!type) continue;
      const base: string = Reflect.getMetadata(PATH_METADATA, type) ?? '';
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name];
        const method: RequestMethod | undefined = Reflect.getMetadata(METHOD_METADATA, handler);
        if (method === undefined || typeof handler !== 'function') continue;
        const args: Record<string, unknown> = Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {};
        const body = Object.keys(args).some((key) => key.startsWith(`${RouteParamtypes.BODY}:`));
        declaresBody.set(`${RequestMethod[method]} ${join(base, Reflect.getMetadata(PATH_METADATA, handler) ?? '')}`, body);
      }
    }
  }
  const stack = (t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
  return stack
    .flatMap((layer) => (layer.route ? Object.entries(layer.route.methods).filter(([, on]) => on).map(([m]) => `${m.toUpperCase()} ${layer.route!.path}`) : []))
    .filter((route) => WRITE_METHODS.has(route.split(' ')[0]) && declaresBody.get(route) === false)
    .sort();
}

/** Bodies a client might send to a route that takes none, and the text the refusal must name. */
const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const HOSTILE: Array<[string, Record<string, string>, string | Buffer, string]> = [
  ['JSON', JSON_TYPE, '{"dryRun":true}', 'property dryRun should not exist'],
  ['JSON, several fields', JSON_TYPE, '{"dryRun":true,"force":1,"clearMustReset":true}', 'property clearMustReset should not exist'],
  ['JSON with a CSRF field', JSON_TYPE, '{"_csrf":"x","force":true}', 'property force should not exist'],
  ['JSON array', JSON_TYPE, '[{"dryRun":true}]', 'JSON array'],
  ['gzip JSON', { ...JSON_TYPE, 'content-encoding': 'gzip' }, gzipSync('{"dryRun":true}'), 'property dryRun should not exist'],
  ['form', FORM_TYPE, 'dryRun=true', 'property dryRun should not exist'],
  ['plain text', { 'content-type': 'text/plain' }, '{"dryRun":true}', 'takes no request body (got text/plain)'],
  ['no content type', {}, Buffer.from('dryRun'), 'takes no request body'],
];
/** What an ordinary client sends to such a route; every one of these must still work. */
const EMPTY: Array<[string, Record<string, string>, string | undefined]> = [
  ['no body', {}, undefined],
  ['no body, JSON type', JSON_TYPE, undefined],
  ['{}', JSON_TYPE, '{}'],
  ['[]', JSON_TYPE, '[]'],
  ['empty form', FORM_TYPE, ''],
];

describe('routes that take no body', () => {
  let t: TestApp;
  let admin: string;
  let session: { cookie: string; csrf: string };
  let seq = 0;

  beforeAll(async () => {
    // No workers: a launch or resume only changes the database and queues jobs nobody runs.
    t = await createTestApp({ ROLE: 'api' });
    admin = await t.operatorToken('admin');
    session = await signIn(t, 'admin', 'bodyless-admin');
    await seedAccount(t, { password: 'in scope password 1' });
  });
  afterAll(() => t?.close());

  const campaign = async (status: 'draft' | 'running' | 'paused') =>
    createCampaign(t).then((c) => t.prisma.campaign.update({ where: { id: c.id }, data: { status, scope: 'all', launchedAt: status === 'draft' ? null : c.launchedAt } }));
  const campaignState = (id: number) => t.prisma.campaign.findUniqueOrThrow({ where: { id }, select: { status: true, launchedAt: true, updatedAt: true } });
  const audited = (action: string) => t.prisma.auditEntry.count({ where: { action } });
  const application = async () => {
    const { name } = await t.get(ApplicationsService).create({ name: `bodyless-app${++seq}`, returnOrigins: ['https://portal.example.org'], webhookUrl: 'http://127.0.0.1:9/hooks' }, 'test');
    return { name, state: () => t.prisma.application.findUniqueOrThrow({ where: { name } }) };
  };

  /** Per route: a fresh target, and what a call that went through would change. */
  const table: Record<string, () => Promise<{ path: string; state: () => Promise<unknown> }>> = {
    'POST /api/campaigns/:id/pause': async () => {
      const { id } = await campaign('running');
      return { path: `/api/campaigns/${id}/pause`, state: async () => [await campaignState(id), await audited('campaign.pause')] };
    },
    'POST /api/campaigns/:id/resume': async () => {
      const { id } = await campaign('paused');
      return { path: `/api/campaigns/${id}/resume`, state: async () => [await campaignState(id), await audited('campaign.resume')] };
    },
    'POST /api/campaigns/:id/notices/retry': async () => {
      const { id } = await campaign('running');
      const account = await seedAccount(t, { password: 'failed notice pw 1' });
      await flagAccounts(t, id, [account.id]);
      await t.prisma.$transaction((tx) => t.get(CampaignProgressService).advance(tx, id, [account.id], 'notice_failed', { noticeError: '550 no such mailbox' }));
      return { path: `/api/campaigns/${id}/notices/retry`, state: () => audited('notices.retry') };
    },
    'POST /api/operators/:username/disable': async () => {
      const username = `bodyless-victim${++seq}`;
      await t.get(OperatorsService).create(username, 'manager', 'test');
      return {
        path: `/api/operators/${username}/disable`,
        state: async () => [(await t.prisma.operator.findUniqueOrThrow({ where: { username } })).disabledAt, await audited('operator.disable')],
      };
    },
    'DELETE /api/operators/tokens/:id': async () => {
      const username = `bodyless-holder${++seq}`;
      await t.get(OperatorsService).create(username, 'manager', 'test');
      const { id } = await t.get(OperatorsService).createToken(username, 'extra', 'test');
      return { path: `/api/operators/tokens/${id}`, state: async () => [(await t.prisma.apiToken.findUniqueOrThrow({ where: { id } })).revokedAt, await audited('operator.token.revoke')] };
    },
    'POST /api/apps/:name/disable': async () => {
      const app = await application();
      return { path: `/api/apps/${app.name}/disable`, state: async () => [(await app.state()).enabled, await audited('application.disable')] };
    },
    'POST /api/apps/:name/rotate-key': async () => {
      const app = await application();
      return { path: `/api/apps/${app.name}/rotate-key`, state: async () => [(await app.state()).keyHash, await audited('application.key.rotate')] };
    },
    'POST /api/apps/:name/rotate-secret': async () => {
      const app = await application();
      return { path: `/api/apps/${app.name}/rotate-secret`, state: async () => [(await app.state()).secretCiphertext, await audited('application.secret.rotate')] };
    },
    'POST /api/apps/deliveries/:id/redeliver': async () => {
      const app = await application();
      const { id: applicationId } = await app.state();
      const { id } = await t.prisma.webhookDelivery.create({
        data: { applicationId, webhookId: `msg_bodyless${++seq}`, type: 'account.flagged', payload: {}, status: 'failed' },
      });
      return { path: `/api/apps/deliveries/${id}/redeliver`, state: async () => [await t.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } }), await audited('application.webhook.redeliver')] };
    },
  };
  /** Routes without @Body() that read the request stream themselves (marked @ReadsBodyStream()). */
  const STREAMED = ['POST /api/accounts/import'];

  const send = (method: string, path: string, headers: Record<string, string>, body?: string | Buffer) =>
    fetch(`${t.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...headers }, body });

  it('lists every bodyless write route of the router in the table', () => {
    // A new route without @Body() fails here until it is added to the table (or is marked as reading the stream).
    expect(bodylessRoutes(t)).toEqual([...Object.keys(table), ...STREAMED].sort());
  });

  it('refuses any body on each with 400 naming what was unexpected, and changes nothing', async () => {
    for (const [route, prepare] of Object.entries(table)) {
      const method = route.split(' ')[0];
      const { path, state } = await prepare();
      const before = await state();
      for (const [kind, headers, body, named] of HOSTILE) {
        const res = await send(method, path, headers, body);
        const reply = (await res.json()) as { message: string[] };
        expect(res.status, `${route} ${kind}`).toBe(400);
        expect(reply.message.join('\n'), `${route} ${kind}`).toContain(named);
      }
      // A dashboard session's CSRF token rides along in the body; it does not carry another field past the check.
      const viaSession = await fetch(`${t.baseUrl}${path}`, {
        method,
        headers: { ...JSON_TYPE, cookie: session.cookie },
        body: JSON.stringify({ _csrf: session.csrf, dryRun: true }),
      });
      expect(viaSession.status, `${route} session`).toBe(400);
      expect(await state(), route).toEqual(before);
    }
  });

  it('still takes each with no body, an empty JSON object or array, an empty form, or only the session’s CSRF field', async () => {
    for (const [route, prepare] of Object.entries(table)) {
      const method = route.split(' ')[0];
      for (const [kind, headers, body] of EMPTY) {
        const { path, state } = await prepare();
        const before = await state();
        const res = await send(method, path, headers, body);
        expect(res.status, `${route} ${kind}: ${await res.text()}`).toBeLessThan(300);
        expect(await state(), `${route} ${kind}`).not.toEqual(before);
      }
      const { path, state } = await prepare();
      const before = await state();
      const res = await fetch(`${t.baseUrl}${path}`, { method, headers: { ...FORM_TYPE, cookie: session.cookie }, body: new URLSearchParams({ _csrf: session.csrf }).toString() });
      expect(res.status, `${route} session form`).toBeLessThan(300);
      expect(await state(), `${route} session form`).not.toEqual(before);
    }
  });

  it('refuses a body on a read route too, and still streams an upload to the import route', async () => {
    const { id } = await campaign('running');
    // fetch sends no body with a GET; Node's own client does.
    const payload = '{"includeSecrets":true}';
    const get = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers = { ...JSON_TYPE, 'content-length': String(payload.length), authorization: `Bearer ${admin}` };
      const req = request(`${t.baseUrl}/api/campaigns/${id}`, { method: 'GET', headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end(payload);
    });
    expect(get.status).toBe(400);
    expect(get.body).toContain('property includeSecrets should not exist');
    expect((await send('GET', `/api/campaigns/${id}`, {})).status).toBe(200);

    const upload = await send('POST', '/api/accounts/import', { 'content-type': 'text/csv' }, 'username,email,displayName,orgUnit,locale,emailVerified,passwordHash\nstreamed,streamed@example.org,S,u,en,true,\n');
    expect(upload.status, await upload.text()).toBe(200);
    expect(await t.prisma.account.count({ where: { username: 'streamed' } })).toBe(1);
  });
});
