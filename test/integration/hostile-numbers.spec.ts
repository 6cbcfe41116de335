import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** Every route with a numeric path parameter, written out: a new one fails the first test until it is added here. */
const ID_ROUTES = [
  'GET /api/campaigns/:id',
  'PATCH /api/campaigns/:id',
  'GET /api/campaigns/:id/preview',
  'GET /api/campaigns/:id/unknown-usernames',
  'POST /api/campaigns/:id/launch',
  'POST /api/campaigns/:id/pause',
  'POST /api/campaigns/:id/resume',
  'POST /api/campaigns/:id/cancel',
  'GET /api/campaigns/:id/progress',
  'GET /api/campaigns/:id/accounts',
  'GET /api/campaigns/:id/notices/failed',
  'POST /api/campaigns/:id/notices/retry',
  'GET /api/secrets/:id',
  'GET /dashboard/campaigns/:id',
  'GET /dashboard/campaigns/:id/live.json',
  'GET /dashboard/campaigns/:id/pending.csv',
  'DELETE /api/operators/tokens/:id',
  'POST /api/apps/deliveries/:id/redeliver',
];
/** Numeric query parameters, on every route that takes them (`{id}` is an existing campaign). */
const QUERY_ROUTES = [
  'GET /api/campaigns/{id}/accounts?limit=',
  'GET /api/campaigns/{id}/accounts?after=',
  'GET /api/campaigns/{id}/notices/failed?limit=',
  'GET /api/campaigns/{id}/notices/failed?after=',
  'GET /api/audit?limit=',
  'GET /api/audit?before=',
  'GET /api/audit?campaignId=',
  'GET /dashboard/campaigns/{id}?after=',
];
/** Above PostgreSQL's int4, far above it, and other shapes that are not an id. */
const OUT_OF_RANGE = ['2147483648', '99999999999999999999', '1e10', '-2147483649', '0x80000000', '1.5'];

describe('numbers out of the database range', () => {
  let t: TestApp;
  let admin: string;
  let campaignId: number;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.operatorToken('admin');
    campaignId = (await createCampaign(t)).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const send = (method: string, path: string) =>
    fetch(`${t.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, accept: 'application/json', 'content-type': 'application/json' },
      body: method === 'PATCH' ? JSON.stringify({ noticeRate: 5 }) : method === 'POST' || method === 'DELETE' ? '{}' : undefined,
    });

  it('lists every route of the router with an :id in the table', () => {
    const stack = (t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
    const routes = stack.flatMap((l) => (l.route ? Object.keys(l.route.methods).map((m) => `${m.toUpperCase()} ${l.route!.path}`) : []));
    expect(routes.filter((r) => r.includes(':id')).sort()).toEqual([...ID_ROUTES].sort());
  });

  it('answers 400 for an id path parameter out of range, never 500', async () => {
    for (const route of ID_ROUTES) {
      const [method, pattern] = route.split(' ') as [string, string];
      for (const value of OUT_OF_RANGE) {
        const res = await send(method, pattern.replace(':id', encodeURIComponent(value)));
        expect(res.status, `${route} with ${value}`).toBe(400);
      }
      // The largest int4 is an id like any other: not found, not a server error.
      const max = await send(method, pattern.replace(':id', '2147483647'));
      expect(max.status, `${route} with 2147483647`).toBe(404);
    }
  });

  it('answers 400 for a numeric query parameter out of range, never 500', async () => {
    for (const route of QUERY_ROUTES) {
      const [method, pattern] = route.replace('{id}', String(campaignId)).split(' ') as [string, string];
      for (const value of OUT_OF_RANGE) {
        const res = await send(method, `${pattern}${encodeURIComponent(value)}`);
        expect(res.status, `${route}${value}`).toBe(400);
      }
      if (!pattern.endsWith('limit=')) expect((await send(method, `${pattern}2147483647`)).status, `${route}2147483647`).toBe(200);
    }
  });
});
