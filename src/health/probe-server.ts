import { createServer, type Server } from 'node:http';
import type { HealthService } from './health.service.js';

/**
 * ROLE=worker runs no HTTP application, yet an orchestrator's health check and Prometheus still ask it for
 * /health and /metrics: this answers those two paths and nothing else.
 */
export async function listenForProbes(health: HealthService, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const answer =
      req.method !== 'GET'
        ? Promise.resolve({ status: 405, type: 'text/plain', body: 'method not allowed' })
        : path === '/health'
          ? health.check().then((r) => ({ status: r.status === 'ok' ? 200 : 503, type: 'application/json', body: JSON.stringify(r) }))
          : path === '/metrics'
            ? health.metrics().then((m) => ({ status: 200, type: m.contentType, body: m.body }))
            : Promise.resolve({ status: 404, type: 'text/plain', body: 'a worker answers only /health and /metrics' });
    answer
      .catch((err: Error) => ({ status: 500, type: 'text/plain', body: err.message }))
      .then(({ status, type, body }) => res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
