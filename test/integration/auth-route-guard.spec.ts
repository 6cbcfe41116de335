import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, createCampaign, csrfFrom, flagAccounts, seedAccount } from '../support/auth-flow.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

interface Route {
  method: string;
  path: string;
}

/** Methods a browser or script can send (an `all` route is walked with each of them). */
const WALKED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** Every route registered on the Express router, whoever's module it belongs to. */
function registeredRoutes(t: TestApp): Route[] {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } };
  const routes: Route[] = [];
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on && WALKED_METHODS.has(method.toUpperCase())) routes.push({ method: method.toUpperCase(), path: layer.route.path });
    }
  }
  return routes;
}

/** A concrete URL for an Express 5 route pattern: parameters become `1`, wildcards `x`, optional groups are kept. */
function samplePath(pattern: string): string {
  const path = pattern.replace(/[{}]/g, '').replace(/\*[A-Za-z_]*/g, 'x').replace(/:[A-Za-z_]+/g, '1');
  return path.startsWith('/') ? path : `/${path}`;
}

/** The routes Nest's controllers declare (the guard covers these), from the decorators' metadata. */
function nestRoutes(t: TestApp): Set<string> {
  const keys = new Set<string>();
  const join = (...parts: string[]) => `/${parts.flatMap((p) => p.split('/')).filter(Boolean).join('/')}`;
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new () => unknown) | null;
      if (!type) continue;
      const base: string | string[] = Reflect.getMetadata(PATH_METADATA, type) ?? '';
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name];
        const method: RequestMethod | undefined = Reflect.getMetadata(METHOD_METADATA, handler);
        if (method === undefined || typeof handler !== 'function') continue;
        const paths: string | string[] = Reflect.getMetadata(PATH_METADATA, handler) ?? '';
        for (const b of [base].flat()) for (const p of [paths].flat()) keys.add(`${RequestMethod[method]} ${join(b, p)}`);
      }
    }
  }
  return keys;
}

/** What a pre-reset session may reach (a handoff from an application replaces the session, as a new sign-in does). */
const PRE_RESET_ALLOWED = new Set([
  'GET /pre-reset',
  'POST /pre-reset/send-link',
  'GET /reset/:token',
  'POST /reset/:token',
  'POST /reset/:token/sign-in',
  'POST /logout',
  'GET /gate/handoff/:token',
]);

describe('the route guard', () => {
  let t: TestApp;
  let browser: Browser;
  let csrf: string;
  let adminToken: string;

  beforeAll(async () => {
    t = await createTestApp();
    const campaign = await createCampaign(t);
    const frank = await seedAccount(t, { password: 'franks old password' });
    await flagAccounts(t, campaign.id, [frank.id]);
    browser = new Browser(t.baseUrl);
    expect((await browser.login(frank.username, frank.password)).location).toBe('/pre-reset');
    csrf = csrfFrom((await browser.get('/pre-reset')).body);
    adminToken = await t.operatorToken('admin');
  });
  afterAll(() => t.close());

  it('refuses a pre-reset session on every route but the pre-reset and reset pages and logout', async () => {
    const routes = registeredRoutes(t);
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    for (const allowed of PRE_RESET_ALLOWED) expect(keys).toContain(allowed);
    for (const route of ['GET /login', 'GET /account', 'GET /health', 'POST /api/accounts/import']) expect(keys).toContain(route);

    const nest = nestRoutes(t);
    expect(nest.size).toBeGreaterThan(10);

    let walked = 0;
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (PRE_RESET_ALLOWED.has(key)) continue;
      const path = samplePath(route.path);
      walked += 1;
      if (nest.has(key) || nest.has(`ALL ${route.path}`)) {
        // Even a valid operator token does not carry a restricted browser session past the guard.
        const reply = await browser.request(route.method, path, {
          json: true,
          headers: { authorization: `Bearer ${adminToken}`, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        });
        expect.soft(reply.status, key).toBe(403);
        expect.soft(reply.body, key).toContain('restricted_session');
      } else {
        // Express-level operator tools (API docs): the pre-reset session on its own opens nothing there either.
        const reply = await browser.request(route.method, path, { json: true });
        expect.soft(reply.status >= 200 && reply.status < 300, `${key} answered ${reply.status}`).toBe(false);
      }
    }
    expect(walked).toBe(routes.length - PRE_RESET_ALLOWED.size);
    // The session is still usable for what it is for.
    expect((await browser.get('/pre-reset')).status).toBe(200);
  });

  it('sends a navigating browser back to the pre-reset page', async () => {
    for (const path of ['/account', '/login', '/health', '/dashboard']) {
      const reply = await browser.get(path);
      if (reply.status === 404) continue;
      expect(reply.status, path).toBe(303);
      expect(reply.location, path).toBe('/pre-reset');
    }
  });

  it('refuses form posts without the CSRF token', async () => {
    expect((await browser.post('/pre-reset/send-link', {})).status).toBe(403);
    expect((await browser.post('/pre-reset/send-link', { _csrf: 'x'.repeat(43) })).status).toBe(403);
    expect((await browser.post('/logout', {})).status).toBe(403);
    const anonymous = new Browser(t.baseUrl);
    expect((await anonymous.post('/login', { username: 'a', password: 'b' })).status).toBe(403);
    expect((await anonymous.post('/login', { username: 'a', password: 'b', _csrf: 'x'.repeat(43) })).status).toBe(403);
    expect(await t.prisma.resetToken.count()).toBe(0);
  });
});
