import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { ApplicationEventsService } from '../../src/application-events/application-events.service.js';
import { ApplicationsService } from '../../src/integrations/applications/applications.service.js';
import type { BenchDefinition } from '../rows.js';
import { percentile, rateRow, round, runConcurrently, timeRow } from '../support.js';
import { ACTOR, benchEnv, ensureAccounts, ensureCampaign, httpLoad } from './env.js';

const GATE_CLIENTS = 50;
const GATE_REQUESTS = 5000;
const GATE_ACCOUNTS = 1000;
const WEBHOOK_EVENTS = 2000;

/** A receiver that answers 200 to everything, in this process. */
async function okReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * POST /api/gate/sign-in with autocannon at 50 connections over 1,000 accounts of a connected application, all
 * flagged by the bench campaign (the answer that issues a handoff, the gate's most expensive one). Floor: the
 * unique-index lookup of the same usernames over a raw pg pool of the product's size, at the same concurrency.
 */
export const gateRow: BenchDefinition = {
  name: 'gate',
  async run(ctx) {
    const env = await benchEnv(ctx);
    await ensureCampaign(ctx);
    const app = await env.get(ApplicationsService).create({ name: `bench-gate-${Date.now()}`, returnOrigins: ['https://portal.example.org'], webhookUrl: 'https://portal.example.org/hooks' }, ACTOR);
    const usernames = Array.from({ length: Math.min(GATE_ACCOUNTS, ctx.accounts) }, (_, i) => `bench${i + 1}`);
    await env.pool.query('UPDATE accounts SET application_id = $1 WHERE username = ANY($2::text[])', [app.id, usernames]);
    let next = 0;
    const load = () =>
      httpLoad({
        url: `${env.baseUrl}/api/gate/sign-in`,
        method: 'POST',
        connections: GATE_CLIENTS,
        amount: GATE_REQUESTS,
        maxSeconds: 120,
        headers: { authorization: `Bearer ${app.key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ username: usernames[next++ % usernames.length], returnTo: 'https://portal.example.org/after' }) }),
      });
    await load();
    const product = await load();
    let i = 0;
    const floor = await runConcurrently(GATE_REQUESTS, GATE_CLIENTS, async () => {
      await env.pool.query('SELECT id, application_id, disabled, must_reset, password_expired, password_changed_at FROM accounts WHERE username = $1', [usernames[i++ % usernames.length]]);
    });
    floor.latencies.sort((a, b) => a - b);
    const notes = `${round(product.perSecond)} answers/s; ${product.non2xx} non-2xx; floor over a raw pool of ${env.config.database.poolSize}`;
    return [
      timeRow('gate', `p50 (c=${GATE_CLIENTS})`, product.p50, percentile(floor.latencies, 50), undefined, notes),
      timeRow('gate', `p99 (c=${GATE_CLIENTS})`, product.p99, percentile(floor.latencies, 99), { maxRatio: 2, text: '≤ 2× PK lookup' }),
    ];
  },
};

/**
 * Webhook deliveries per second into a local receiver: 2,000 outbox rows for one application, dispatched and delivered
 * by the in-process workers, timed from dispatch to the last row marked delivered. Floor: a bare loop signing the same
 * bodies with standardwebhooks and POSTing them at the same concurrency (one application's WEBHOOK_APP_CONCURRENCY).
 */
export const webhookRow: BenchDefinition = {
  name: 'webhooks',
  async run(ctx) {
    const env = await benchEnv(ctx);
    await ensureAccounts(ctx, env.pool);
    const receiver = await okReceiver();
    try {
      const app = await env.get(ApplicationsService).create({ name: `bench-hooks-${Date.now()}`, returnOrigins: ['https://portal.example.org'], webhookUrl: receiver.url }, ACTOR);
      const concurrency = env.config.webhooks.perApplicationConcurrency;
      const body = (i: number) => ({ type: 'account.flagged', timestamp: new Date().toISOString(), data: { username: `bench${i}`, externalId: `ext-${i}`, sequence: 1, campaignId: 1 } });
      await env.pool.query(
        `INSERT INTO webhook_deliveries (webhook_id, application_id, type, payload)
         SELECT 'msg_bench_' || i || '_' || $1::text, $1::int, 'account.flagged', jsonb_build_object('type', 'account.flagged', 'data', jsonb_build_object('username', 'bench' || i))
         FROM generate_series(1, $2) AS i`,
        [app.id, WEBHOOK_EVENTS],
      );
      const started = performance.now();
      await env.get(ApplicationEventsService).dispatch();
      for (;;) {
        const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE application_id = $1 AND status = 'delivered'`, [app.id]);
        if (rows[0].n >= WEBHOOK_EVENTS) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const productMs = performance.now() - started;

      const webhook = new Webhook(app.secret);
      const floor = await runConcurrently(WEBHOOK_EVENTS, concurrency, async (i) => {
        const payload = JSON.stringify(body(i));
        const id = `msg_floor_${i}`;
        const at = new Date();
        const res = await fetch(receiver.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': webhook.sign(id, at, payload) },
          body: payload,
        });
        await res.arrayBuffer();
      });
      return [
        rateRow(
          'webhooks',
          `deliveries/s (one application, ${concurrency} at once)`,
          (WEBHOOK_EVENTS / productMs) * 1000,
          (WEBHOOK_EVENTS / floor.ms) * 1000,
          '/s',
          { maxRatio: 1 / 0.7, text: '≥ 70% of a bare signed-POST loop' },
          'product: outbox row → queue → signed POST → row marked delivered',
        ),
      ];
    } finally {
      await receiver.close();
    }
  },
};
