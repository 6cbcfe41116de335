import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureOutput } from '../support/log-capture.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const TOKEN = 'Zq3vR8kLm2Np5sT7wX9yB1cD4fG6hJ0aE3iK5oU7uQ1';

describe('request logs of token URLs in any case or encoding', () => {
  let t: TestApp;
  let capture: ReturnType<typeof captureOutput>;

  beforeAll(async () => {
    capture = captureOutput();
    t = await createTestApp({ LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await t?.close();
    capture?.restore();
  });

  it('serves /RESET/<token> like /reset/<token> and never logs the token', async () => {
    const from = capture.lines.length;
    const paths = [`/RESET/${TOKEN}`, `/Reset/${TOKEN}`, `/SECRET/${TOKEN}`, `/%72eset/${TOKEN}`, `/reset/${TOKEN}?TOKEN=${TOKEN}`];
    const lower = await fetch(`${t.baseUrl}/reset/${TOKEN}`);
    expect(lower.status).toBe(410);
    expect((await fetch(`${t.baseUrl}/RESET/${TOKEN}`)).status).toBe(410);
    for (const path of paths) await (await fetch(`${t.baseUrl}${path}`)).text();
    await new Promise((r) => setTimeout(r, 200));
    const log = capture.lines.slice(from).join('');
    expect(log).toContain('/RESET/[redacted]');
    expect(log).toContain('/SECRET/[redacted]');
    expect(log.includes(TOKEN), 'the token appears in the log').toBe(false);
  });
});
