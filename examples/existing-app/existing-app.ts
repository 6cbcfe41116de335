/**
 * "Your existing application": its own users table in its own PostgreSQL database, its own bcrypt hashes and its own
 * sign-in form. Two additions make it work with reset-orchestrator: it asks the gate after checking a password, and it
 * applies `account.password_reset` webhooks to its table after verifying their signature.
 *
 *   node dist/examples/existing-app/existing-app.js   (DATABASE_URL, GATE_URL, APP_KEY, WEBHOOK_SECRET, PORT)
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import bcrypt from 'bcryptjs';
import express from 'express';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';

export interface ExistingAppOptions {
  /** The application's own database (the users table is created if missing). */
  databaseUrl: string;
  /** reset-orchestrator's base URL, e.g. https://reset.example.org */
  gateUrl: string;
  /** The application key printed by `resetctl apps create`. */
  appKey: string;
  /** The webhook signing secret printed with it (whsec_…). */
  webhookSecret: string;
  port?: number;
}

export interface ExistingApp {
  url: string;
  pool: pg.Pool;
  /** Adds a user with a bcrypt hash of the password; returns its id (the externalId to import into reset-orchestrator). */
  addUser(username: string, password: string): Promise<number>;
  close(): Promise<void>;
}

const page = (body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Portal</title></head><body>${body}</body></html>`;
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginForm = (message = '') =>
  page(`<h1>Portal sign-in</h1>${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/login"><label>Username <input name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label><button type="submit">Sign in</button></form>`);

export async function startExistingApp(options: ExistingAppOptions): Promise<ExistingApp> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 5 });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, username text UNIQUE NOT NULL, password_hash text NOT NULL, event_sequence int NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS processed_webhooks (webhook_id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now())`);
  const sessions = new Map<string, string>();
  const webhook = new Webhook(options.webhookSecret);
  const app = express();
  let publicUrl = '';

  app.get('/', (_req, res) => res.redirect('/login'));
  app.get('/login', (_req, res) => res.send(loginForm()));
  app.get('/after', (_req, res) => res.send(page('<h1>Welcome back</h1><p>Your password was changed. <a href="/login">Sign in</a> with the new one.</p>')));
  app.get('/home', (req, res) => {
    const user = sessions.get(/existing_app_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '');
    if (!user) return res.redirect('/login');
    res.send(page(`<h1>Signed in as ${escape(user)}</h1>`));
  });

  // --- the gate: after the password is verified, before the session starts ---
  app.post('/login', express.urlencoded({ extended: false }), async (req, res, next) => {
    try {
      const { username = '', password = '' } = req.body as { username?: string; password?: string };
      const { rows } = await pool.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', [username.toLowerCase()]);
      if (!rows[0] || !(await bcrypt.compare(password, rows[0].password_hash))) return res.status(401).send(loginForm('Wrong username or password.'));
      const gate = await fetch(`${options.gateUrl}/api/gate/sign-in`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.appKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username, returnTo: `${publicUrl}/after` }),
        signal: AbortSignal.timeout(5_000),
      }).catch(() => null);
      // Fail closed: while a breach response runs, a sign-in the gate has not cleared is not started.
      if (!gate?.ok) return res.status(503).send(loginForm('Sign-in is unavailable for a moment. Try again.'));
      const answer = (await gate.json()) as { decision: string; handoffUrl?: string };
      if (answer.decision !== 'continue') return res.redirect(303, answer.handoffUrl!);
      const sid = randomBytes(24).toString('base64url');
      sessions.set(sid, username.toLowerCase());
      res.cookie('existing_app_sid', sid, { httpOnly: true, sameSite: 'lax' }).redirect(303, '/home');
    } catch (err) {
      next(err);
    }
  });

  // --- the write-back: signed events from reset-orchestrator ---
  app.post('/hooks/reset', express.text({ type: 'application/json' }), async (req, res, next) => {
    let event: { type: string; data: { externalId: string; username: string; sequence: number; passwordHash?: string } };
    try {
      event = webhook.verify(req.body as string, req.headers as Record<string, string>) as typeof event;
    } catch {
      return res.status(401).send('bad signature');
    }
    try {
      const first = await pool.query('INSERT INTO processed_webhooks (webhook_id) VALUES ($1) ON CONFLICT DO NOTHING', [req.headers['webhook-id']]);
      if (first.rowCount === 0) return res.status(200).send('already applied');
      const { externalId, sequence, passwordHash } = event.data;
      if (event.type === 'account.password_reset') {
        // The sequence drops an older event that arrives after a newer one.
        await pool.query('UPDATE users SET password_hash = $1, event_sequence = $2 WHERE id = $3 AND event_sequence < $2', [passwordHash, sequence, Number(externalId)]);
      }
      if (event.type === 'account.flagged' || event.type === 'account.password_reset') {
        for (const [sid, user] of sessions) if (user === event.data.username) sessions.delete(sid);
      }
      res.status(200).send('ok');
    } catch (err) {
      next(err);
    }
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: publicUrl,
    pool,
    async addUser(username, password) {
      const { rows } = await pool.query<{ id: number }>('INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id', [
        username.toLowerCase(),
        await bcrypt.hash(password, 10),
      ]);
      return rows[0].id;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const required = (name: string) => env[name] ?? (console.error(`set ${name}`), process.exit(1));
  const started = await startExistingApp({
    databaseUrl: required('DATABASE_URL'),
    gateUrl: required('GATE_URL'),
    appKey: required('APP_KEY'),
    webhookSecret: required('WEBHOOK_SECRET'),
    port: Number(env.PORT ?? 4000),
  });
  console.log(`existing app on ${started.url}`);
}
