import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/support.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/src/main.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}

describe('service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('reports database and Redis readiness and exposes metrics', async () => {
    const health = await fetch(`${t.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'up', redis: 'up' });
    const metrics = await fetch(`${t.baseUrl}/metrics`);
    expect(await metrics.text()).toContain('process_cpu_user_seconds_total');
  });

  it('sets security headers and rejects oversized bodies', async () => {
    const res = await fetch(`${t.baseUrl}/health`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
    // Any JSON route but the account import, which streams its body to disk under its own size limit.
    const big = await fetch(`${t.baseUrl}/api/campaigns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(200_000) }),
    });
    expect(big.status).toBe(413);
  });

  it.each([
    ['PostgreSQL', { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' }, /cannot reach PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:1\/none/],
    ['Redis', { REDIS_URL: 'redis://127.0.0.1:1' }, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/],
    ['bad config', { PORT: 'eighty' }, /invalid configuration: PORT/],
  ])('fails fast with one clear line when %s is wrong', async (_name, env, message) => {
    const result = await runMain({ ...env, LOG_LEVEL: 'silent' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.ms).toBeLessThan(15_000);
  });

  it('answers /health and /metrics from a worker process (ROLE=worker) on its PORT, and nothing else', async () => {
    const port = await freePort();
    const worker = spawn(process.execPath, ['dist/src/main.js'], {
      env: { ...process.env, NODE_ENV: 'test', ROLE: 'worker', PORT: String(port), DATABASE_URL: t.config.database.url, QUEUE_PREFIX: t.config.redis.queuePrefix, LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    try {
      let health: Response | undefined;
      for (let i = 0; i < 300 && !health?.ok; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (!health?.ok) await new Promise((r) => setTimeout(r, 200));
      }
      expect(health?.status).toBe(200);
      expect(await health!.json()).toEqual({ status: 'ok', database: 'up', redis: 'up' });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('# TYPE reset_notices_total counter');
      expect((await fetch(`http://127.0.0.1:${port}/api/campaigns`)).status).toBe(404);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
