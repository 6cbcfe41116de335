import bcrypt from 'bcryptjs';
import { Prisma } from '../../src/generated/prisma/client.js';
import type { PolicyPreset } from '../../src/generated/prisma/enums.js';
import { PasswordHasherService } from '../../src/passwords/password-hasher.service.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import type { ReceivedMail, SmtpSink } from './smtp-sink.js';
import type { TestApp } from './test-app.js';

export interface Reply {
  status: number;
  location: string | null;
  body: string;
  headers: Headers;
  json<T = Record<string, unknown>>(): T;
}

/** A browser with a cookie jar that does not follow redirects, so every 303 can be asserted. */
export class Browser {
  readonly cookies = new Map<string, string>();
  readonly setCookieHeaders: string[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly ip?: string,
  ) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, options: { form?: Record<string, string>; json?: boolean; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { accept: options.json ? 'application/json' : 'text/html', ...options.headers };
    if (this.cookies.size) headers.cookie = this.cookieHeader;
    if (this.ip) headers['x-forwarded-for'] = this.ip;
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
    for (const header of res.headers.getSetCookie()) {
      this.setCookieHeaders.push(header);
      const [pair] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /expires=Thu, 01 Jan 1970/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), body: text, headers: res.headers, json: () => JSON.parse(text) };
  }

  get(path: string, options: { json?: boolean } = {}): Promise<Reply> {
    return this.request('GET', path, options);
  }

  post(path: string, form: Record<string, string>, options: { json?: boolean } = {}): Promise<Reply> {
    return this.request('POST', path, { ...options, form });
  }

  /** GET /login, then posts the form with its CSRF token. */
  async login(username: string, password: string): Promise<Reply> {
    const page = await this.get('/login');
    return this.post('/login', { username, password, _csrf: csrfFrom(page.body) });
  }
}

export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no CSRF field in page: ${html.slice(0, 300)}`);
  return match[1];
}

export function resetTokenFrom(mail: ReceivedMail): string {
  const match = /\/reset\/([A-Za-z0-9_-]{43})/.exec(mail.parsed.text ?? '');
  if (!match) throw new Error('no reset link in the mail');
  return match[1];
}

export const LINK_SUBJECT = 'Your password reset link';
export const CHANGED_SUBJECT = 'Your password was changed';

/** Mail of one kind to one address (a running campaign's notices may arrive too). */
export function mailTo(sink: SmtpSink, address: string, subject: string): ReceivedMail[] {
  return sink.to(address).filter((m) => m.parsed.subject === subject);
}

let accounts = 0;

export interface SeededAccount {
  id: number;
  username: string;
  email: string;
  password: string;
}

/** An account with a known password; `bcrypt` stores it as an imported bcrypt hash. */
export async function seedAccount(
  t: TestApp,
  options: { password: string; verified?: boolean; email?: string | null; preset?: PolicyPreset; bcrypt?: boolean; passwordExpired?: boolean; username?: string },
): Promise<SeededAccount> {
  accounts += 1;
  const username = options.username ?? `user${accounts}x${Date.now() % 100000}`;
  const email = options.email === undefined ? `${username}@example.org` : options.email;
  const passwordHash = options.bcrypt ? await bcrypt.hash(options.password, 4) : await t.get(PasswordHasherService).hash(options.password);
  const row = await t.prisma.account.create({
    data: {
      username,
      email,
      emailVerified: options.verified ?? true,
      displayName: `Display ${username}`,
      policyPreset: options.preset ?? 'nist',
      passwordHash,
      passwordChangedAt: new Date(Date.now() - 86_400_000),
      passwordExpired: options.passwordExpired ?? false,
    },
  });
  return { id: row.id, username, email: email ?? '', password: options.password };
}

export async function createCampaign(t: TestApp, overrides: { linkTtlMinutes?: number } = {}) {
  return t.prisma.campaign.create({
    data: {
      name: 'Breach INC-7',
      incidentRef: 'INC-7',
      reason: 'We found signs that passwords may have been copied from one of our systems.',
      scope: 'usernames',
      noticeRate: 100,
      phrase: 'amber falcon',
      status: 'running',
      createdBy: 'test',
      launchedAt: new Date(),
      ...overrides,
    },
  });
}

/** What a campaign launch does to an account, set up directly: progress row flagged and the account must reset. */
export async function flagAccounts(t: TestApp, campaignId: number, accountIds: number[]): Promise<void> {
  await t.prisma.$transaction(async (tx) => {
    await t.get(CampaignProgressService).flag(tx, campaignId, Prisma.sql`SELECT unnest(${accountIds}::int[])`);
    await tx.account.updateMany({ where: { id: { in: accountIds } }, data: { mustReset: true, mustResetCampaignId: campaignId } });
  });
}
