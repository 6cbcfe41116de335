import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, csrfFrom } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** A failed operator sign-in: its audit entry records the client address the service believed. */
async function failedOperatorSignIn(t: TestApp, forwardedFor: string): Promise<{ status: number; address: unknown }> {
  const form = await fetch(`${t.baseUrl}/operator/sign-in`);
  const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  const before = await t.prisma.auditEntry.findFirst({ where: { action: 'operator.sign-in.failed' }, orderBy: { id: 'desc' } });
  const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': forwardedFor },
    body: new URLSearchParams({ username: 'nobody-here', password: 'not a password', _csrf: csrf }).toString(),
  });
  await res.arrayBuffer();
  const entry = await t.prisma.auditEntry.findFirst({ where: { action: 'operator.sign-in.failed', id: { gt: before?.id ?? 0 } }, orderBy: { id: 'desc' } });
  return { status: res.status, address: (entry?.details as { address?: unknown } | null)?.address };
}

/** Wrong passwords for fresh usernames, each sent with this X-Forwarded-For, until the first 429: how many failed first. */
async function failuresUntilLimited(t: TestApp, forwardedFor: (i: number) => string, cap = 40): Promise<number> {
  const browser = new Browser(t.baseUrl);
  const csrf = csrfFrom((await browser.get('/login')).body);
  for (let i = 0; i < cap; i++) {
    const form = { username: `stranger${i}-${Date.now()}`, password: 'wrong', _csrf: csrf };
    const reply = await browser.request('POST', '/login', { form, headers: { 'x-forwarded-for': forwardedFor(i) } });
    if (reply.status === 429) return i;
    expect(reply.status).toBe(401);
  }
  return cap;
}

describe('proxy trust by default (TRUST_PROXY unset): X-Forwarded-For is ignored', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: undefined, LOGIN_FAILURES_PER_IP: '3', LOGIN_FAILURES_PER_ACCOUNT: '100' });
  });
  afterAll(() => t?.close());

  it('records the socket address in the audit, not the spoofed one', async () => {
    expect(await failedOperatorSignIn(t, '203.0.113.7')).toEqual({ status: 401, address: '127.0.0.1' });
  });

  it('keeps the per-IP limit: a new spoofed address on every attempt still counts against the one real address', async () => {
    expect(await failuresUntilLimited(t, (i) => `198.51.100.${i + 1}`)).toBe(3);
  });
});

describe('TRUST_PROXY=loopback: the proxy on this host says who the client is', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: 'loopback', LOGIN_FAILURES_PER_IP: '3', LOGIN_FAILURES_PER_ACCOUNT: '100' });
  });
  afterAll(() => t?.close());

  it('records the forwarded client address', async () => {
    expect(await failedOperatorSignIn(t, '203.0.113.8')).toEqual({ status: 401, address: '203.0.113.8' });
  });

  it('keys the per-IP limit on the forwarded address', async () => {
    expect(await failuresUntilLimited(t, () => '198.51.100.50')).toBe(3);
    expect(await failuresUntilLimited(t, () => '198.51.100.51')).toBe(3);
  });
});

describe.each([
  { trust: '1', shape: 'one hop: only the address the proxy itself appended', forwarded: '203.0.113.9, 192.0.2.44', client: '192.0.2.44' },
  {
    trust: '10.0.0.0/8, 127.0.0.0/8',
    shape: 'a load balancer on a private network: walk back past the trusted hops to the first untrusted address',
    forwarded: '203.0.113.10, 192.0.2.45, 10.1.2.3',
    client: '192.0.2.45',
  },
])('TRUST_PROXY=$trust, $shape', ({ trust, forwarded, client }) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: trust });
  });
  afterAll(() => t?.close());

  it(`takes ${client} from "${forwarded}", ignoring what the client put in front`, async () => {
    expect(await failedOperatorSignIn(t, forwarded)).toEqual({ status: 401, address: client });
  });
});

describe('LIMIT_NETWORKS: a known shared egress gets its own per-IP limit', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: 'loopback', LOGIN_FAILURES_PER_IP: '3', LOGIN_FAILURES_PER_ACCOUNT: '100', LIMIT_NETWORKS: '10.20.0.0/16:12, 10.20.5.0/24:6' });
  });
  afterAll(() => t?.close());

  it('allows 12 failures from an address in 10.20.0.0/16, 6 in the narrower 10.20.5.0/24, and 3 elsewhere', async () => {
    expect(await failuresUntilLimited(t, () => '10.20.1.1')).toBe(12);
    expect(await failuresUntilLimited(t, () => '10.20.5.9')).toBe(6);
    expect(await failuresUntilLimited(t, () => '10.21.1.1')).toBe(3);
  });
});
