import { Prisma } from '../../src/generated/prisma/client.js';
import type { ProgressState } from '../../src/generated/prisma/enums.js';
import { OperatorsService } from '../../src/operators/operators.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import type { TestApp } from '../support/test-app.js';

let seq = 0;

/**
 * Accounts (org units cycling through `orgUnits`) flagged into a new campaign through CampaignProgressService.
 * Flagging is marked done and the campaign is paused unless asked otherwise, so the in-process campaign and notice
 * workers leave its rows alone; a running campaign must have no `flagged` rows left if a test counts them.
 */
export async function seedCampaign(
  t: TestApp,
  options: { accounts: number; orgUnits?: string[]; status?: 'running' | 'paused' | 'completed' | 'draft'; name?: string },
): Promise<{ campaignId: number; accountIds: number[] }> {
  seq += 1;
  const prefix = `c${seq}u`;
  const units = options.orgUnits ?? ['finance', 'engineering', 'sales'];
  await t.prisma.$executeRaw(Prisma.sql`
    INSERT INTO accounts (username, email, display_name, org_unit)
    SELECT ${prefix} || i, ${prefix} || i || '@example.org', 'User ' || i, (${units}::text[])[1 + (i % ${units.length})]
    FROM generate_series(1, ${options.accounts}) i`);
  const campaign = await t.prisma.campaign.create({
    data: {
      name: options.name ?? `Campaign ${seq}`,
      incidentRef: `INC-${1000 + seq}`,
      reason: 'credential stuffing',
      scope: 'all',
      noticeRate: 50,
      phrase: 'amber falcon',
      createdBy: 'operator:test',
      status: options.status ?? 'paused',
      flaggingDoneAt: new Date(),
      launchedAt: new Date(Date.now() - 3600_000),
      createdAt: new Date(Date.now() - 3600_000),
    },
  });
  const like = `${prefix}%`;
  await t.prisma.$transaction((tx) =>
    t.get(CampaignProgressService).flag(tx, campaign.id, Prisma.sql`SELECT id FROM accounts WHERE username LIKE ${like} ORDER BY id`),
  );
  const accountIds = (await t.prisma.account.findMany({ where: { username: { startsWith: prefix } }, select: { id: true }, orderBy: { id: 'asc' } })).map(
    (a) => a.id,
  );
  return { campaignId: campaign.id, accountIds };
}

export function advance(t: TestApp, campaignId: number, ids: number[], to: ProgressState, noticeError?: string): Promise<number[]> {
  return t.prisma.$transaction((tx) => t.get(CampaignProgressService).advance(tx, campaignId, ids, to, { noticeError }));
}

/** Creates an operator and signs it in through the sign-in form; returns the Cookie header and the CSRF token. */
export async function signIn(
  t: TestApp,
  role: 'admin' | 'responder' | 'manager',
  username = `${role}-op${++seq}`,
): Promise<{ cookie: string; csrf: string; username: string; password: string }> {
  const { password } = await t.get(OperatorsService).create(username, role, 'test');
  const { cookie } = await signInWith(t, username, password);
  const page = await fetch(`${t.baseUrl}/dashboard`, { headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  return { cookie, csrf, username, password };
}

export async function signInWith(
  t: TestApp,
  username: string,
  password: string,
): Promise<{ status: number; cookie: string; location: string | null; setCookie: string; csrf: string; setCookies: string[] }> {
  const form = await fetch(`${t.baseUrl}/operator/sign-in`);
  const preCookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  const res = await fetch(`${t.baseUrl}/operator/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: preCookie },
    body: new URLSearchParams({ username, password, _csrf: csrf, next: '/dashboard' }).toString(),
  });
  const setCookies = res.headers.getSetCookie();
  // Over HTTPS the session cookie carries the __Host- prefix.
  const setCookie = setCookies.find((c) => /^(__Host-)?ro_operator=/.test(c)) ?? '';
  return { status: res.status, cookie: setCookie.split(';')[0], location: res.headers.get('location'), setCookie, csrf, setCookies };
}
