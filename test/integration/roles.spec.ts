import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, createCampaign, flagAccounts, seedAccount } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn } from './dashboard-fixtures.js';
import { connectApplication } from '../support/gate.js';

/**
 * Who may call what, written out by hand and reviewed like code: the test checks the running app against this
 * table and never reads the @Roles metadata. Operators: `admin`, `responder`, `manager` (with a bearer token, and
 * for GETs with a dashboard session too). End users: `anonymous` (no session at all), and the session kinds
 * `full`, `pre_reset`, `password_change`. A connected application's key (`application`) is a principal of its own, which
 * on user pages is a caller with no session. A route admits exactly the principals listed; every other one is refused.
 */
type Principal = 'admin' | 'responder' | 'manager' | 'application' | 'anonymous' | 'full' | 'pre_reset' | 'password_change';

const OPERATOR_PRINCIPALS = ['admin', 'responder', 'manager'] as const;
const USER_PRINCIPALS = ['anonymous', 'full', 'pre_reset', 'password_change'] as const;
const ALL_PRINCIPALS: readonly Principal[] = [...OPERATOR_PRINCIPALS, 'application', ...USER_PRINCIPALS];

/** Pages for anyone, except a restricted session (pre_reset, password_change) that must finish its reset first. */
const UNRESTRICTED: Principal[] = ['admin', 'responder', 'manager', 'application', 'anonymous', 'full'];

const ACCESS: Record<string, Principal[]> = {
  // Operators' JSON API
  'GET /api/operators/me': ['admin', 'responder', 'manager'],
  'GET /api/operators': ['admin'],
  'POST /api/operators': ['admin'],
  'POST /api/operators/:username/disable': ['admin'],
  'GET /api/operators/tokens': ['admin'],
  'POST /api/operators/tokens': ['admin'],
  'DELETE /api/operators/tokens/:id': ['admin'],
  'GET /api/audit': ['admin', 'responder'],
  'POST /api/accounts/import': ['admin', 'responder'],
  'POST /api/accounts/:username/temporary-password': ['admin', 'responder'],
  'GET /api/secrets/:id': ['admin', 'responder'],
  'POST /api/campaigns': ['admin', 'responder'],
  'GET /api/campaigns': ['admin', 'responder', 'manager'],
  'GET /api/campaigns/:id': ['admin', 'responder', 'manager'],
  'PATCH /api/campaigns/:id': ['admin', 'responder'],
  'GET /api/campaigns/:id/preview': ['admin', 'responder', 'manager'],
  'GET /api/campaigns/:id/unknown-usernames': ['admin', 'responder', 'manager'],
  'POST /api/campaigns/:id/launch': ['admin', 'responder'],
  'POST /api/campaigns/:id/pause': ['admin', 'responder'],
  'POST /api/campaigns/:id/resume': ['admin', 'responder'],
  'POST /api/campaigns/:id/cancel': ['admin', 'responder'],
  'GET /api/campaigns/:id/progress': ['admin', 'responder', 'manager'],
  'GET /api/campaigns/:id/accounts': ['admin', 'responder', 'manager'],
  'GET /api/campaigns/:id/notices/failed': ['admin', 'responder', 'manager'],
  'POST /api/campaigns/:id/notices/retry': ['admin', 'responder'],
  'POST /api/apps': ['admin'],
  'GET /api/apps': ['admin'],
  'GET /api/apps/:name': ['admin'],
  'POST /api/apps/:name/disable': ['admin'],
  'POST /api/apps/:name/rotate-key': ['admin'],
  'POST /api/apps/:name/rotate-secret': ['admin'],
  'GET /api/apps/:name/deliveries': ['admin'],
  'POST /api/apps/deliveries/:id/redeliver': ['admin'],
  // Connected applications' gate: their key and nothing else
  'POST /api/gate/sign-in': ['application'],
  // OpenAPI (Express-level, behind operatorAccess)
  'GET /api/docs': ['admin', 'responder', 'manager'],
  'GET /api/docs-json': ['admin', 'responder', 'manager'],
  'GET /api/docs-yaml': ['admin', 'responder', 'manager'],
  'GET /api/docs/': ['admin', 'responder', 'manager'],
  'GET /api/docs/index.html': ['admin', 'responder', 'manager'],
  'GET /api/docs/swagger-ui-init.js': ['admin', 'responder', 'manager'],
  'GET /api/docs/docs/swagger-ui-init.js': ['admin', 'responder', 'manager'],
  'GET /api/docs/LICENSE': ['admin', 'responder', 'manager'],
  // bull-board (an Express sub-app, see the test below)
  'GET /admin/queues': ['admin', 'responder'],
  'GET /admin/queues/api/queues': ['admin', 'responder'],
  // Dashboard
  'GET /dashboard': ['admin', 'responder', 'manager'],
  'GET /dashboard/campaigns/:id': ['admin', 'responder', 'manager'],
  'GET /dashboard/campaigns/:id/live.json': ['admin', 'responder', 'manager'],
  'GET /dashboard/campaigns/:id/pending.csv': ['admin', 'responder', 'manager'],
  'GET /operator/sign-in': UNRESTRICTED,
  'POST /operator/sign-in': UNRESTRICTED,
  'POST /operator/sign-out': ['admin', 'responder', 'manager'],
  // End users
  'GET /login': UNRESTRICTED,
  'POST /login': UNRESTRICTED,
  'GET /account': ['full'],
  'POST /logout': ['admin', 'responder', 'manager', 'application', 'anonymous', 'full', 'pre_reset', 'password_change'],
  'GET /pre-reset': ['pre_reset'],
  'POST /pre-reset/send-link': ['pre_reset'],
  'GET /reset/:token': ['admin', 'responder', 'manager', 'application', 'anonymous', 'full', 'pre_reset'],
  'POST /reset/:token/sign-in': ['admin', 'responder', 'manager', 'application', 'anonymous', 'full', 'pre_reset'],
  'POST /reset/:token': ['pre_reset'],
  'GET /password/change': ['password_change'],
  'POST /password/change': ['password_change'],
  'GET /gate/handoff/:token': ALL_PRINCIPALS as Principal[],
  'GET /secret/:token': UNRESTRICTED,
  'POST /secret/:token/reveal': UNRESTRICTED,
  'GET /health': UNRESTRICTED,
  'GET /metrics': UNRESTRICTED,
};

/** Express-level sub-apps that are one router layer, not a list of routes: their table entries are added by hand. */
const MOUNTED = ['GET /admin/queues', 'GET /admin/queues/api/queues'];
const WALKED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Route layers Nest registers for middleware applied to every path (the request logger): not endpoints. */
const MIDDLEWARE_PATHS = new Set(['{/*splat}']);

/** Only to find the routes: every METHOD + path on the Express router, whoever registered it. */
function registeredRoutes(t: TestApp): string[] {
  const stack = (t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> }; match(p: string): unknown }> } }).router.stack;
  const routes = new Set<string>();
  for (const layer of stack) {
    if (!layer.route || MIDDLEWARE_PATHS.has(layer.route.path)) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && WALKED_METHODS.has(method.toUpperCase())) routes.add(`${method.toUpperCase()} ${layer.route.path}`);
  }
  expect(stack.some((layer) => !layer.route && layer.match('/admin/queues'))).toBe(true);
  for (const route of MOUNTED) routes.add(route);
  return [...routes];
}

function concrete(path: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => (/id$/i.test(name) ? '999999' : `walk-${name.toLowerCase()}`));
}

/** Access control said no: no or wrong credentials, the wrong role, or a session kind that does not belong here. */
function refused(status: number, body: string): boolean {
  return status === 401 || (status === 403 && /restricted_session|not_available|needs the role/.test(body));
}

describe('who may call each route', () => {
  let t: TestApp;
  let routes: string[];
  let campaignId: number;
  const tokens = {} as Record<(typeof OPERATOR_PRINCIPALS)[number] | 'application', string>;
  const operatorCookies = {} as Record<(typeof OPERATOR_PRINCIPALS)[number], string>;
  const userCookies = {} as Record<(typeof USER_PRINCIPALS)[number], string>;

  beforeAll(async () => {
    t = await createTestApp();
    for (const role of OPERATOR_PRINCIPALS) {
      tokens[role] = await t.operatorToken(role);
      operatorCookies[role] = (await signIn(t, role)).cookie;
    }
    tokens.application = (await connectApplication(t, { name: 'roles', returnOrigins: ['https://portal.example.org'], webhookUrl: 'http://127.0.0.1:9/hooks' })).key;
    const campaign = await createCampaign(t);
    campaignId = campaign.id;
    const full = await seedAccount(t, { password: 'a full session password' });
    const flagged = await seedAccount(t, { password: 'a pre-reset session password' });
    const expired = await seedAccount(t, { password: 'a temporary password here', passwordExpired: true });
    await flagAccounts(t, campaign.id, [flagged.id]);
    userCookies.anonymous = '';
    for (const [kind, account, home] of [
      ['full', full, '/account'],
      ['pre_reset', flagged, '/pre-reset'],
      ['password_change', expired, '/password/change'],
    ] as const) {
      const browser = new Browser(t.baseUrl);
      expect((await browser.login(account.username, account.password)).location).toBe(home);
      userCookies[kind] = browser.cookieHeader;
    }
    routes = registeredRoutes(t);
  });
  afterAll(() => t.close());

  /** JSON, and no CSRF token: a write that gets past access control stops at the CSRF check and changes nothing. */
  const call = async (key: string, headers: Record<string, string>) => {
    const [method, path] = key.split(' ');
    const res = await fetch(`${t.baseUrl}${concrete(path)}`, {
      method,
      redirect: 'manual',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
      body: ['GET', 'HEAD', 'DELETE'].includes(method) ? undefined : '{}',
    });
    return { status: res.status, body: await res.text() };
  };

  it('has a table entry for every registered route and registers every table entry', () => {
    expect(routes.filter((r) => !(r in ACCESS)).sort(), 'routes missing from the table').toEqual([]);
    expect(Object.keys(ACCESS).filter((r) => !routes.includes(r)).sort(), 'table entries no route answers').toEqual([]);
  });

  it('admits exactly the listed principals on every route', async () => {
    const wrong: string[] = [];
    for (const route of Object.keys(ACCESS)) {
      for (const principal of ALL_PRINCIPALS) {
        const headers =
          principal === 'admin' || principal === 'responder' || principal === 'manager' || principal === 'application'
            ? { authorization: `Bearer ${tokens[principal]}` }
            : userCookies[principal]
              ? { cookie: userCookies[principal] }
              : {};
        const res = await call(route, headers);
        const admitted = !refused(res.status, res.body);
        if (admitted !== ACCESS[route].includes(principal)) wrong.push(`${principal} ${route}: ${res.status} ${res.body.slice(0, 80)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('applies the same roles to a dashboard session cookie', async () => {
    const wrong: string[] = [];
    for (const route of Object.keys(ACCESS).filter((r) => r.startsWith('GET '))) {
      for (const role of OPERATOR_PRINCIPALS) {
        const res = await call(route, { cookie: operatorCookies[role] });
        if (!refused(res.status, res.body) !== ACCESS[route].includes(role)) wrong.push(`${role} ${route}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('sends a browser without credentials to the operator sign-in page', async () => {
    const wrong: string[] = [];
    for (const route of ['GET /dashboard', 'GET /dashboard/campaigns/:id', 'GET /api/docs', 'GET /admin/queues']) {
      const res = await fetch(`${t.baseUrl}${concrete(route.split(' ')[1])}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      if (res.status !== 303 || !res.headers.get('location')?.startsWith('/operator/sign-in?next=')) wrong.push(`${route}: ${res.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it('rejects revoked tokens and unknown bearer values with 401', async () => {
    expect((await call('GET /api/operators/me', { authorization: 'Bearer rot_not-a-real-token' })).status).toBe(401);
    expect((await call('GET /api/operators/me', { authorization: 'Basic abc' })).status).toBe(401);
    // A bad bearer header is not rescued by a valid cookie.
    expect((await call('GET /api/operators/me', { authorization: 'Bearer nope', cookie: operatorCookies.admin })).status).toBe(401);
  });

  it('documents the JSON API with OpenAPI generated from the controllers', async () => {
    const res = await fetch(`${t.baseUrl}/api/docs-json`, { headers: { authorization: `Bearer ${tokens.manager}` } });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, unknown> } };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/accounts/import', '/api/audit', '/api/operators', '/api/operators/me', '/api/operators/tokens', '/api/operators/tokens/{id}']),
    );
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/dashboard') || p.startsWith('/operator/'))).toEqual([]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const ui = await fetch(`${t.baseUrl}/api/docs`, { headers: { cookie: operatorCookies.manager } });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('shows the queues in bull-board to admins and responders', async () => {
    const board = await fetch(`${t.baseUrl}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${tokens.responder}` } });
    expect(board.status).toBe(200);
    const names = ((await board.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['campaigns', `notices-${campaignId}`, 'user-mail', 'webhooks']);
    const page = await fetch(`${t.baseUrl}/admin/queues`, { headers: { cookie: operatorCookies.admin } });
    expect(page.status).toBe(200);
    const write = await fetch(`${t.baseUrl}/admin/queues/api/queues/campaigns/pause`, { method: 'PUT', headers: { cookie: operatorCookies.admin, 'sec-fetch-site': 'cross-site' } });
    expect(write.status).toBe(403);
  });
});
