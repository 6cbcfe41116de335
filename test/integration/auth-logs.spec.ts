import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, LINK_SUBJECT, CHANGED_SUBJECT, mailTo, createCampaign, csrfFrom, flagAccounts, resetTokenFrom, seedAccount } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** Everything written to stdout and stderr, however it gets there (pino writes to the descriptors directly). */
function captureOutput(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const keep = (fd: unknown, data: unknown) => {
    if (fd !== 1 && fd !== 2) return false;
    lines.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
    return true;
  };
  const original = { write: fs.write, writeSync: fs.writeSync, stdout: process.stdout.write, stderr: process.stderr.write };
  const writable = fs as unknown as Record<string, unknown>;
  writable.writeSync = (fd: number, data: unknown, ...rest: unknown[]) =>
    keep(fd, data) ? Buffer.byteLength(data as string) : (original.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
  writable.write = (fd: number, data: unknown, ...rest: unknown[]) => {
    if (!keep(fd, data)) return (original.write as (...a: unknown[]) => void)(fd, data, ...rest);
    const callback = rest.find((r) => typeof r === 'function') as ((e: null, n: number) => void) | undefined;
    process.nextTick(() => callback?.(null, Buffer.byteLength(data as string)));
  };
  process.stdout.write = ((chunk: unknown) => keep(1, chunk)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => keep(2, chunk)) as typeof process.stderr.write;
  return {
    lines,
    restore() {
      writable.write = original.write;
      writable.writeSync = original.writeSync;
      process.stdout.write = original.stdout;
      process.stderr.write = original.stderr;
    },
  };
}

describe('logs of the whole reset flow', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let capture: ReturnType<typeof captureOutput>;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    capture = captureOutput();
    t = await createTestApp({ SMTP_URL: sink.url, LOG_LEVEL: 'trace' });
  });
  afterAll(async () => {
    await t.close();
    capture.restore();
    await sink.stop();
  });

  it('never contain a password, token, session id or reset URL', async () => {
    const campaign = await createCampaign(t);
    const oldPassword = 'Lighthouse-keeper 1987';
    const newPassword = 'seven quiet otters paddle north';
    const weakPassword = 'qwerty123456';
    const lena = await seedAccount(t, { password: oldPassword });
    await flagAccounts(t, campaign.id, [lena.id]);

    const browser = new Browser(t.baseUrl);
    await browser.login(lena.username, 'a wrong password 42');
    await browser.login(lena.username, oldPassword);
    await browser.post('/pre-reset/send-link', { _csrf: csrfFrom((await browser.get('/pre-reset')).body) });
    await sink.waitFor(() => mailTo(sink, lena.email, LINK_SUBJECT).length === 1);
    const token = resetTokenFrom(mailTo(sink, lena.email, LINK_SUBJECT)[0]);
    const csrf = csrfFrom((await browser.get(`/reset/${token}`)).body);
    await new Browser(t.baseUrl).post(`/reset/${token}/sign-in`, { username: lena.username, password: oldPassword, _csrf: 'bad' });
    await browser.post(`/reset/${token}`, { newPassword: weakPassword, confirmPassword: weakPassword, _csrf: csrf });
    const done = await browser.post(`/reset/${token}`, { newPassword, confirmPassword: newPassword, _csrf: csrf });
    expect(done.status).toBe(303);
    await browser.post(`/reset/${token}`, { newPassword, confirmPassword: newPassword, _csrf: csrf });
    const after = new Browser(t.baseUrl);
    expect((await after.login(lena.username, newPassword)).location).toBe('/account');
    await sink.waitFor(() => mailTo(sink, lena.email, CHANGED_SUBJECT).length === 1);

    const sessionIds = [browser, after].flatMap((b) => b.setCookieHeaders).map((h) => h.split(';')[0].split('=')[1]).filter((v) => v && v.length > 20);
    expect(sessionIds.length).toBeGreaterThanOrEqual(3);
    const secrets = [oldPassword, newPassword, weakPassword, token, `/reset/${token}`, encodeURIComponent(newPassword), csrf, ...sessionIds];

    const log = capture.lines.join('');
    // The capture works: the request log of the reset page is there, with its token redacted.
    expect(log).toContain('/reset/[redacted]');
    expect(log).toContain('signed in');
    for (const secret of secrets) expect(log.includes(secret), `log contains ${secret.slice(0, 6)}…`).toBe(false);
  });
});
