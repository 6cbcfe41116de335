import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_DOCS_ROLES, QUEUE_BOARD_PATH, QUEUE_BOARD_ROLES } from '../../src/operators/operator-tools.js';
import type { OperatorRole } from '../../src/generated/prisma/enums.js';
import { OPERATOR_ROLES, ROLES_KEY, roleAllowed } from '../../src/operators/roles.decorator.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { signIn } from './dashboard-fixtures.js';

interface WalkRoute {
  method: string;
  path: string;
  roles: readonly OperatorRole[] | undefined;
}

const GUARDED = /^\/(api|dashboard|admin)(\/|-|$)/;

function joinPath(...parts: string[]): string {
  return `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
}

/** @Roles of every Nest handler, keyed by "METHOD /path" exactly as Express registered it. */
function nestRoles(t: TestApp): Map<string, readonly OperatorRole[] | undefined> {
  const result = new Map<string, readonly OperatorRole[] | undefined>();
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!type) continue;
      const base = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, type) ?? '');
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name];
        if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const roles = Reflect.getMetadata(ROLES_KEY, handler) ?? Reflect.getMetadata(ROLES_KEY, type);
        for (const b of base) for (const p of ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, handler))) result.set(`${method} ${joinPath(b, p)}`, roles);
      }
    }
  }
  return result;
}

/** Every /api, /dashboard and /admin route registered on the Express app right now, with the roles that may use it. */
function discoverRoutes(t: TestApp): WalkRoute[] {
  const roles = nestRoles(t);
  const stack = (t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> }; match(p: string): unknown }> } }).router.stack;
  const routes: WalkRoute[] = [];
  for (const layer of stack) {
    if (!layer.route || !GUARDED.test(layer.route.path)) continue;
    for (const method of Object.keys(layer.route.methods).map((m) => m.toUpperCase())) {
      const key = `${method} ${layer.route.path}`;
      if (roles.has(key)) routes.push({ method, path: layer.route.path, roles: roles.get(key) });
      else if (layer.route.path.startsWith('/api/docs')) routes.push({ method, path: layer.route.path, roles: API_DOCS_ROLES });
      else routes.push({ method, path: layer.route.path, roles: undefined });
    }
  }
  // bull-board is an Express sub-app mounted behind operatorAccess, not a list of routes.
  expect(stack.some((layer) => !layer.route && layer.match(QUEUE_BOARD_PATH))).toBe(true);
  routes.push({ method: 'GET', path: QUEUE_BOARD_PATH, roles: QUEUE_BOARD_ROLES }, { method: 'GET', path: `${QUEUE_BOARD_PATH}/api/queues`, roles: QUEUE_BOARD_ROLES });
  return routes;
}

function concrete(path: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => (/id$/i.test(name) ? '999999' : `walk-${name.toLowerCase()}`));
}

describe('role walk over every operator route', () => {
  let t: TestApp;
  let routes: WalkRoute[];
  const tokens = {} as Record<OperatorRole, string>;
  const sessions = {} as Record<OperatorRole, string>;

  beforeAll(async () => {
    t = await createTestApp();
    for (const role of OPERATOR_ROLES) {
      tokens[role] = await t.operatorToken(role);
      sessions[role] = (await signIn(t, role)).cookie;
    }
    routes = discoverRoutes(t);
  });
  afterAll(() => t.close());

  const call = (route: WalkRoute, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}${concrete(route.path)}`, {
      method: route.method,
      redirect: 'manual',
      headers: { 'content-type': 'application/json', ...headers },
      body: ['GET', 'HEAD', 'DELETE'].includes(route.method) ? undefined : '{}',
    });

  it('finds the routes of every feature, and each names its roles', () => {
    const paths = routes.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(
      expect.arrayContaining(['POST /api/accounts/import', 'GET /api/audit', 'GET /api/operators', 'GET /dashboard', 'GET /dashboard/campaigns/:id', 'GET /api/docs-json', `GET ${QUEUE_BOARD_PATH}`]),
    );
    expect(routes.filter((r) => !r.roles?.length).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('answers 401 without credentials, or sends a browser to the sign-in page', async () => {
    const wrong: string[] = [];
    for (const route of routes) {
      const res = await call(route);
      if (res.status !== 401) wrong.push(`${route.method} ${route.path}: ${res.status}`);
      if (route.method === 'GET' && !route.path.startsWith('/api/') && !/\.(json|csv)$/.test(route.path)) {
        const page = await call(route, { accept: 'text/html' });
        if (page.status !== 303 || !page.headers.get('location')?.startsWith('/operator/sign-in?next=')) wrong.push(`${route.method} ${route.path} (html): ${page.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('answers 403 exactly where a role is not allowed, with a bearer token', async () => {
    const wrong: string[] = [];
    for (const route of routes) {
      for (const role of OPERATOR_ROLES) {
        const res = await call(route, { authorization: `Bearer ${tokens[role]}` });
        const allowed = roleAllowed(role, route.roles!);
        if (allowed ? [401, 403].includes(res.status) : res.status !== 403) wrong.push(`${role} ${route.method} ${route.path}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('applies the same roles to a dashboard session cookie', async () => {
    const wrong: string[] = [];
    for (const route of routes.filter((r) => r.method === 'GET')) {
      for (const role of OPERATOR_ROLES) {
        const res = await call(route, { cookie: sessions[role] });
        const allowed = roleAllowed(role, route.roles!);
        if (allowed ? [401, 403].includes(res.status) : res.status !== 403) wrong.push(`${role} ${route.method} ${route.path}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('rejects revoked tokens and unknown bearer values with 401', async () => {
    const route = routes.find((r) => r.path === '/api/operators/me')!;
    expect((await call(route, { authorization: 'Bearer rot_not-a-real-token' })).status).toBe(401);
    expect((await call(route, { authorization: 'Basic abc' })).status).toBe(401);
    // A bad bearer header is not rescued by a valid cookie.
    expect((await call(route, { authorization: 'Bearer nope', cookie: sessions.admin })).status).toBe(401);
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
    const ui = await fetch(`${t.baseUrl}/api/docs`, { headers: { cookie: sessions.manager } });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('shows the queues in bull-board to admins and responders', async () => {
    const board = await fetch(`${t.baseUrl}${QUEUE_BOARD_PATH}/api/queues`, { headers: { authorization: `Bearer ${tokens.responder}` } });
    expect(board.status).toBe(200);
    const names = ((await board.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['campaigns', 'user-mail']);
    const page = await fetch(`${t.baseUrl}${QUEUE_BOARD_PATH}`, { headers: { cookie: sessions.admin } });
    expect(page.status).toBe(200);
    const write = await fetch(`${t.baseUrl}${QUEUE_BOARD_PATH}/api/queues/campaigns/pause`, { method: 'PUT', headers: { cookie: sessions.admin, 'sec-fetch-site': 'cross-site' } });
    expect(write.status).toBe(403);
  });
});
