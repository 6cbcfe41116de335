import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { ApplicationsService, type NewApplication } from '../../src/integrations/applications/applications.service.js';
import { seedAccount } from './auth-flow.js';
import type { TestApp } from './test-app.js';
import { until } from './until.js';

export interface ConnectedApp {
  id: number;
  name: string;
  key: string;
  secret: string;
}

/** Registers an application the way `resetctl apps create` does and attaches the given accounts to it. */
export async function connectApplication(t: TestApp, input: NewApplication, accountIds: number[] = [], externalIds: string[] = []): Promise<ConnectedApp> {
  const created = await t.get(ApplicationsService).create(input, 'test');
  for (const [i, id] of accountIds.entries()) {
    await t.prisma.account.update({ where: { id }, data: { applicationId: created.id, externalId: externalIds[i] ?? null } });
  }
  return { id: created.id, name: created.name, key: created.key, secret: created.secret };
}

export async function gateSignIn(baseUrl: string, key: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/api/gate/sign-in`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

export interface ReceivedEvent {
  webhookId: string;
  type: string;
  data: Record<string, unknown>;
  /** The secrets (by index in `secrets`) whose verification passed. */
  verifiedWith: number[];
}

/**
 * A webhook receiver on a loopback port. Every request is verified with the standardwebhooks library against each
 * of `secrets` (a request no secret verifies is answered 401 and kept in `rejected`); `failFor.set(username, n)` answers
 * the next n events about that username 503. `applied` holds each webhook-id once, however many times it came.
 */
export class WebhookReceiver {
  readonly attempts: { webhookId: string; status: number }[] = [];
  readonly applied = new Map<string, ReceivedEvent>();
  readonly rejected: string[] = [];
  readonly failFor = new Map<string, number>();
  down = false;
  secrets: string[] = [];
  private server?: http.Server;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const webhookId = String(req.headers['webhook-id']);
        const reply = (status: number) => {
          this.attempts.push({ webhookId, status });
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now');
        };
        if (this.down) {
          this.attempts.push({ webhookId, status: 0 });
          return req.socket.destroy();
        }
        const verifiedWith = this.secrets.flatMap((secret, i) => {
          try {
            new Webhook(secret).verify(body, req.headers as Record<string, string>);
            return [i];
          } catch {
            return [];
          }
        });
        if (!verifiedWith.length) {
          this.rejected.push(webhookId);
          return reply(401);
        }
        const event = JSON.parse(body) as { type: string; data: Record<string, unknown> };
        const failures = this.failFor.get(String(event.data.username)) ?? 0;
        if (failures > 0) {
          this.failFor.set(String(event.data.username), failures - 1);
          return reply(503);
        }
        if (!this.applied.has(webhookId)) this.applied.set(webhookId, { webhookId, type: event.type, data: event.data, verifiedWith });
        reply(200);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hooks/reset`;
  }

  events(type?: string): ReceivedEvent[] {
    return [...this.applied.values()].filter((e) => !type || e.type === type);
  }

  waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    return until(async () => predicate(), Boolean, timeoutMs).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** An account of a connected application: the application holds its password, this product holds none. */
export async function gateAccount(t: TestApp, app: ConnectedApp, options: { username?: string; externalId?: string } = {}) {
  const account = await seedAccount(t, { password: 'not kept here 12345', username: options.username });
  await t.prisma.account.update({ where: { id: account.id }, data: { passwordHash: null, applicationId: app.id, externalId: options.externalId ?? null } });
  return account;
}
