import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/common/tokens.js';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { Browser, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom, seedAccount } from '../support/auth-flow.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ATTEMPTS = 1000;

/** Posts the login form `n` times from one browser (one IP), returning the statuses in order. */
async function hammer(browser: Browser, n: number, credentials: (i: number) => { username: string; password: string }): Promise<number[]> {
  const csrf = csrfFrom((await browser.get('/login')).body);
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await browser.post('/login', { ...credentials(i), _csrf: csrf })).status);
  return statuses;
}

/** The statuses switch from `before` to `after` exactly once, after `limit` attempts, and stay there. */
function expectSwitch(statuses: number[], limit: number, before: number, after: number): void {
  expect(statuses.slice(0, limit)).toEqual(Array(limit).fill(before));
  expect(new Set(statuses.slice(limit))).toEqual(new Set([after]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

describe('hostile sign-in traffic', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it(`throttles ${ATTEMPTS} wrong passwords on one account, and keeps the right one out meanwhile`, async () => {
    const victim = await seedAccount(t, { password: 'the victims real password' });
    const statuses = await hammer(new Browser(t.baseUrl, '10.8.0.1'), ATTEMPTS, (i) => ({ username: victim.username, password: `guess number ${i}` }));
    expectSwitch(statuses, t.config.limits.loginFailuresPerAccount, 401, 429);
    expect((await new Browser(t.baseUrl, '10.8.0.2').login(victim.username, victim.password)).status).toBe(429);
    expect(await t.prisma.session.count({ where: { accountId: victim.id } })).toBe(0);
  });

  it(`throttles ${ATTEMPTS} wrong passwords across accounts from one IP, and keeps everyone out from it meanwhile`, async () => {
    const real = await seedAccount(t, { password: 'someone elses password' });
    const usernames = [real.username, ...Array.from({ length: 9 }, (_, i) => `nobody${i}`)];
    const statuses = await hammer(new Browser(t.baseUrl, '10.8.1.1'), ATTEMPTS, (i) => ({ username: `${usernames[i % 10]}${i >= 10 ? `-${i}` : ''}`, password: `spray ${i}` }));
    expectSwitch(statuses, t.config.limits.loginFailuresPerIp, 401, 429);
    const fresh = await seedAccount(t, { password: 'a fresh accounts password' });
    expect((await new Browser(t.baseUrl, '10.8.1.1').login(fresh.username, fresh.password)).status).toBe(429);
    expect((await new Browser(t.baseUrl, '10.8.1.2').login(fresh.username, fresh.password)).location).toBe('/account');
  });

  it(`throttles ${ATTEMPTS} wrong operator passwords, and keeps the operator out meanwhile`, async () => {
    const { password } = await t.get(OperatorsService).create('targeted-op', 'admin', 'test');
    const form = await fetch(`${t.baseUrl}/operator/sign-in`);
    const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
    const attempt = async (pw: string) => {
      const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': '10.8.2.1' },
        body: new URLSearchParams({ username: 'targeted-op', password: pw, _csrf: csrf }).toString(),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const statuses: number[] = [];
    for (let i = 0; i < ATTEMPTS; i++) statuses.push(await attempt(`guess ${i}`));
    const firstThrottled = statuses.indexOf(429);
    expect(firstThrottled).toBeGreaterThan(0);
    expect(firstThrottled).toBeLessThanOrEqual(10);
    expectSwitch(statuses, firstThrottled, 401, 429);
    expect(await attempt(password)).toBe(429);
  });
});

const CONCURRENT = 300;

/** Every password check (a real hash or the dummy for unknown names), counted while a test runs. */
function countVerifications(t: TestApp): { readonly count: number } {
  const hasher = t.get(PasswordHasherService);
  const real = vi.spyOn(hasher, 'verify');
  const dummy = vi.spyOn(hasher, 'verifyAgainstDummy');
  return {
    get count() {
      return real.mock.calls.length + dummy.mock.calls.length;
    },
  };
}

async function operatorForm(t: TestApp): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${t.baseUrl}/operator/sign-in`);
  const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(await form.text())![1] };
}

async function operatorSignIn(t: TestApp, form: { cookie: string; csrf: string }, username: string, password: string, ip: string): Promise<number> {
  const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, 'x-forwarded-for': ip },
    body: new URLSearchParams({ username, password, _csrf: form.csrf }).toString(),
  });
  await res.arrayBuffer();
  return res.status;
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

describe('concurrent sign-in attempts', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());
  afterEach(() => vi.restoreAllMocks());

  it(`lets at most 5 of ${CONCURRENT} concurrent wrong passwords for one account reach the password check, and then refuses the right one`, async () => {
    const victim = await seedAccount(t, { password: 'the victims real password' });
    const browser = new Browser(t.baseUrl);
    const csrf = csrfFrom((await browser.get('/login')).body);
    const verifications = countVerifications(t);
    const statuses = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        browser.request('POST', '/login', {
          form: { username: victim.username, password: `guess number ${i}`, _csrf: csrf },
          headers: { 'x-forwarded-for': `10.7.${i >> 8}.${i & 255}` },
        }),
      ),
    ).then((replies) => replies.map((r) => r.status));
    const counts = tally(statuses);
    expect(new Set(statuses)).toEqual(new Set([401, 429].filter((s) => counts[s])));
    expect(counts[429]).toBeGreaterThanOrEqual(CONCURRENT - 5);
    expect(verifications.count).toBeLessThanOrEqual(5);
    expect(verifications.count).toBe(counts[401] ?? 0);

    // Whatever the in-flight bound turned away, five failures lock the account: top them up one at a time.
    for (let i = counts[401] ?? 0; i < 5; i++) {
      const reply = await new Browser(t.baseUrl, `10.7.9.${i}`).login(victim.username, `late guess ${i}`);
      expect(reply.status).toBe(401);
    }
    const right = await new Browser(t.baseUrl, '10.7.10.1').login(victim.username, victim.password);
    expect(right.status).toBe(429);
    expect(verifications.count).toBe(5);
    expect(await t.prisma.session.count({ where: { accountId: victim.id } })).toBe(0);
  });

  it('runs at most 2 password checks at once for one account and refuses a third at once, counting nothing for it', async () => {
    const held = await seedAccount(t, { password: 'the held accounts password' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const verify = vi.spyOn(t.get(PasswordHasherService), 'verify').mockImplementation(async () => {
      await gate;
      return false;
    });
    const browser = new Browser(t.baseUrl);
    const csrf = csrfFrom((await browser.get('/login')).body);
    const post = (i: number) =>
      browser.request('POST', '/login', { form: { username: held.username, password: `held guess ${i}`, _csrf: csrf }, headers: { 'x-forwarded-for': `10.5.0.${i}` } });
    try {
      const first = [post(1), post(2)];
      await vi.waitFor(() => expect(verify).toHaveBeenCalledTimes(2));
      let third: Awaited<ReturnType<typeof post>> | undefined;
      void post(3).then((reply) => (third = reply));
      await vi.waitFor(() => expect(third !== undefined || verify.mock.calls.length > 2).toBe(true));
      expect(verify).toHaveBeenCalledTimes(2);
      expect(third?.status).toBe(429);
      expect(third?.body).toContain('Too many sign-in attempts for this account at once');
      release();
      expect((await Promise.all(first)).map((r) => r.status)).toEqual([401, 401]);
    } finally {
      release();
    }
    // The refused one counted nothing: 3 more failures fit under the limit of 5, the sixth attempt is refused.
    verify.mockRestore();
    for (let i = 4; i < 7; i++) expect((await post(i)).status).toBe(401);
    expect((await post(7)).status).toBe(429);
  });

  it(`lets at most 10 of ${CONCURRENT} concurrent wrong operator passwords reach the password check, and then refuses the right one`, async () => {
    const { password } = await t.get(OperatorsService).create('besieged-op', 'admin', 'test');
    const form = await operatorForm(t);
    const verifications = countVerifications(t);
    const statuses = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => operatorSignIn(t, form, 'besieged-op', `guess ${i}`, `10.6.${i >> 8}.${i & 255}`)),
    );
    const counts = tally(statuses);
    expect(new Set(statuses)).toEqual(new Set([401, 429].filter((s) => counts[s])));
    expect(counts[429]).toBeGreaterThanOrEqual(CONCURRENT - 10);
    expect(verifications.count).toBe(counts[401] ?? 0);
    for (let i = counts[401] ?? 0; i < 10; i++) expect(await operatorSignIn(t, form, 'besieged-op', `late guess ${i}`, `10.6.9.${i}`)).toBe(401);
    expect(await operatorSignIn(t, form, 'besieged-op', password, '10.6.10.1')).toBe(429);
    expect(verifications.count).toBe(10);
    expect(await t.prisma.operatorSession.count({ where: { operator: { username: 'besieged-op' } } })).toBe(0);
  });

  it('lets a browser an operator signed in from before in with the right password while the name is locked', async () => {
    const { password } = await t.get(OperatorsService).create('returning-op', 'responder', 'test');
    const form = await operatorForm(t);
    const first = await fetch(`${t.baseUrl}/operator/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, 'x-forwarded-for': '10.6.30.1' },
      body: new URLSearchParams({ username: 'returning-op', password, _csrf: form.csrf }).toString(),
    });
    expect(first.status).toBe(303);
    const device = first.headers.getSetCookie().find((c) => c.startsWith('ro_operator_device='))!.split(';')[0];
    expect(device).toMatch(/^ro_operator_device=[A-Za-z0-9_-]{43}$/);
    for (let i = 0; i < 10; i++) expect(await operatorSignIn(t, form, 'returning-op', `guess ${i}`, `10.6.31.${i}`)).toBe(401);
    expect(await operatorSignIn(t, form, 'returning-op', password, '10.6.30.1')).toBe(429);
    const known = await operatorSignIn(t, { ...form, cookie: `${form.cookie}; ${device}` }, 'returning-op', password, '10.6.30.1');
    expect(known).toBe(303);
  });

  it('counts only failed operator sign-ins: 60 successful ones from one address are never held back', async () => {
    const { password } = await t.get(OperatorsService).create('busy-op', 'manager', 'test');
    const form = await operatorForm(t);
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push(await operatorSignIn(t, form, 'busy-op', password, '10.6.20.1'));
    expect(statuses).toEqual(Array(60).fill(303));
  });
});

describe('sign-in timing', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ LOGIN_FAILURES_PER_ACCOUNT: '100000', LOGIN_FAILURES_PER_IP: '100000' });
  });
  afterAll(() => t?.close());

  it('answers a wrong username and a wrong password within 5 ms of each other at the median of 200 tries', async () => {
    const known = await seedAccount(t, { password: 'a password nobody guesses' });
    const browser = new Browser(t.baseUrl, '10.8.3.1');
    const csrf = csrfFrom((await browser.get('/login')).body);
    const timed = async (username: string) => {
      const started = performance.now();
      const reply = await browser.post('/login', { username, password: `wrong ${randomBytes(4).toString('hex')}`, _csrf: csrf });
      expect(reply.status).toBe(401);
      return performance.now() - started;
    };
    const kinds = [known.username, () => `ghost-${randomBytes(4).toString('hex')}`] as const;
    const name = (k: 0 | 1) => (k === 0 ? kinds[0] : kinds[1]());
    // A statistical check on a shared machine: interleaved, warmed up, and measured again if a round was disturbed.
    let difference = Number.POSITIVE_INFINITY;
    const rounds: string[] = [];
    for (let round = 0; round < 3 && difference > 5; round++) {
      for (let i = 0; i < 20; i++) await timed(name((i % 2) as 0 | 1));
      const samples: [number[], number[]] = [[], []];
      for (let i = 0; i < 200; i++) {
        const order: Array<0 | 1> = Math.random() < 0.5 ? [0, 1] : [1, 0];
        for (const k of order) samples[k].push(await timed(name(k)));
      }
      const [wrongPassword, wrongUsername] = samples.map(median);
      difference = Math.abs(wrongPassword - wrongUsername);
      rounds.push(`wrong password ${wrongPassword.toFixed(2)} ms, wrong username ${wrongUsername.toFixed(2)} ms`);
    }
    expect(difference, rounds.join('; ')).toBeLessThanOrEqual(5);
  }, 180_000);
});

describe('used, expired and superseded links, and viewed secrets', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url });
    responder = await t.operatorToken('responder');
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  async function askForLink(browser: Browser, email: string, count: number): Promise<string> {
    const page = await browser.get('/pre-reset');
    expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(page.body) })).status).toBe(303);
    await sink.waitFor(() => mailTo(sink, email, LINK_SUBJECT).length === count);
    return resetTokenFrom(mailTo(sink, email, LINK_SUBJECT)[count - 1]);
  }

  const tryReset = async (browser: Browser, token: string, password: string) => {
    const page = await browser.get(`/reset/${token}`);
    const csrf = csrfFrom((await browser.get('/pre-reset')).body);
    const post = await browser.post(`/reset/${token}`, { newPassword: password, confirmPassword: password, _csrf: csrf });
    return { get: page.status, post: post.status };
  };

  it('never accepts a used, an expired or a superseded reset token again, even with a valid pre-reset session', async () => {
    const campaign = await createCampaign(t);
    const user = await seedAccount(t, { password: 'users first password' });
    await flagAccounts(t, campaign.id, [user.id]);
    const browser = new Browser(t.baseUrl, '10.8.4.1');
    expect((await browser.login(user.username, user.password)).location).toBe('/pre-reset');
    const superseded = await askForLink(browser, user.email, 1);
    const used = await askForLink(browser, user.email, 2);
    expect(await tryReset(browser, superseded, 'amber wolves climb quietly')).toEqual({ get: 410, post: 410 });

    const form = await browser.get(`/reset/${used}`);
    const first = 'seven lanterns over the bay';
    expect((await browser.post(`/reset/${used}`, { newPassword: first, confirmPassword: first, _csrf: csrfFrom(form.body) })).status).toBe(303);

    // Flagged again by a later campaign: a fresh pre-reset session, yet the old links stay dead.
    await flagAccounts(t, (await createCampaign(t)).id, [user.id]);
    const again = new Browser(t.baseUrl, '10.8.4.2');
    expect((await again.login(user.username, first)).location).toBe('/pre-reset');
    for (const token of [used, superseded]) expect(await tryReset(again, token, 'crimson herons wade slowly')).toEqual({ get: 410, post: 410 });
    const fresh = await askForLink(again, user.email, 3);
    await t.prisma.resetToken.update({ where: { tokenHash: sha256Hex(fresh) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await tryReset(again, fresh, 'crimson herons wade slowly')).toEqual({ get: 410, post: 410 });

    expect((await new Browser(t.baseUrl, '10.8.4.3').login(user.username, first)).location).toBe('/pre-reset');
    expect(await t.prisma.resetToken.count({ where: { accountId: user.id, usedAt: { not: null } } })).toBe(1);
  });

  it('never shows a viewed one-time secret again, and shows a superseded one never', async () => {
    const user = await seedAccount(t, { password: 'temp users password' });
    const issue = async () => {
      const res = await fetch(`${t.baseUrl}/api/accounts/${user.username}/temporary-password`, {
        method: 'POST',
        headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { url: string }).url.replace(/^https?:\/\/[^/]+/, t.baseUrl);
    };
    const formTokens = new Map<string, string | undefined>();
    const reveal = async (url: string) => {
      if (!formTokens.has(url)) formTokens.set(url, ((await (await fetch(url, { headers: { accept: 'application/json' } })).json()) as { csrf?: string }).csrf);
      const csrf = formTokens.get(url);
      const res = await fetch(`${url}/reveal`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ csrf }) });
      return { status: res.status, body: (await res.json()) as { password?: string; status: string } };
    };
    const superseded = await issue();
    const current = await issue();
    expect((await reveal(superseded)).body.password).toBeUndefined();
    const shown = await reveal(current);
    expect(shown.status).toBe(200);
    expect(shown.body.password).toBeTruthy();
    // Even with the form token captured from the first visit.
    for (let i = 0; i < 3; i++) {
      const again = await reveal(current);
      expect(again.status).toBe(410);
      expect(again.body.status).toBe('viewed');
      expect(again.body.password).toBeUndefined();
      expect(JSON.stringify(again.body)).not.toContain(shown.body.password!);
      const html = await (await fetch(current)).text();
      expect(html).not.toContain(shown.body.password!);
    }
  });
});
