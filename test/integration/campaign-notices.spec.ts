import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignsService } from '../../src/campaigns/campaigns.service.js';
import { findLinks } from '../../src/notifications/link-free.js';
import { CampaignProgressService } from '../../src/progress/campaign-progress.service.js';
import { SmtpSink, type ReceivedMail } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ACCOUNTS = 10_000;
const HOSTILE_NAMES = [
  'Bob http://evil.example',
  'bob@evil.example',
  'evil.example',
  '<a href="https://evil.example">Click me</a>',
  'www.evil.example',
  'javascript:alert(1)',
  'Mallory mailto:mallory@evil.example',
  'ｈｔｔｐｓ：／／ｅｖｉｌ．ｅｘａｍｐｌｅ',
];

/** Headers that necessarily carry addresses; everything else in the message must be link-free. */
const ADDRESS_HEADERS = new Set(['from', 'to', 'message-id']);

function linkProblems(mail: ReceivedMail): string[] {
  const [rawHeaders, ...rest] = mail.raw.split(/\r?\n\r?\n/);
  const rawBody = rest.join('\n\n');
  const readableHeaders = rawHeaders
    .replace(/\r?\n[ \t]+/g, ' ')
    .split(/\r?\n/)
    .filter((line) => !ADDRESS_HEADERS.has(line.split(':')[0].trim().toLowerCase()));
  return [
    ...findLinks('raw body', rawBody),
    ...readableHeaders.flatMap((h) => findLinks('raw header', h)),
    ...findLinks('subject', mail.parsed.subject ?? ''),
    ...findLinks('text', mail.parsed.text ?? ''),
    ...findLinks('html', typeof mail.parsed.html === 'string' ? mail.parsed.html : '', true),
  ].map((p) => `${mail.to}: ${p.part} ${p.rule} ${p.text}`);
}

describe('campaign notices at scale', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let token: string;

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${t.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({
      SMTP_URL: sink.url,
      SMTP_POOL_SIZE: '8',
      NOTICE_CONCURRENCY: '8',
      DATABASE_POOL_SIZE: '20',
      CAMPAIGN_SWEEP_INTERVAL: '1s',
      CAMPAIGN_FLAG_BATCH: '1500',
      NOTICE_QUEUE_MAX: '2000',
    });
    token = await t.operatorToken('responder');
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified, display_name, locale, password_hash)
       SELECT 'n' || lpad(i::text, 6, '0'), 'n' || i || '@example.org', true,
              CASE WHEN i % 50 = 0 THEN ($1::text[])[1 + (i / 50) % $2] ELSE 'User ' || i END,
              CASE WHEN i % 7 = 0 THEN 'de' ELSE 'en' END, 'hash-' || i
       FROM generate_series(1, ${ACCOUNTS}) AS i`,
      HOSTILE_NAMES,
      HOSTILE_NAMES.length,
    );
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO sessions (id_hash, account_id, kind, csrf_token, expires_at)
       SELECT 'sess-' || id, id, 'full', 'c', now() + interval '1 hour' FROM accounts WHERE id % 100 = 1`,
    );
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO reset_tokens (token_hash, account_id, expires_at)
       SELECT 'tok-' || id, id, now() + interval '30 minutes' FROM accounts WHERE id % 100 = 2`,
    );
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it(`flags ${ACCOUNTS} accounts and delivers exactly one link-free notice to each`, async () => {
    const created = await api('/api/campaigns', {
      method: 'POST',
      body: JSON.stringify({ name: 'Scale', incidentRef: 'INC-1001', reason: 'A partner system leaked password hashes.', scope: 'all', noticeRate: 5000 }),
    });
    expect(created.status).toBe(201);
    const { campaign, preview } = await created.json();
    expect(preview).toMatchObject({ toFlag: ACCOUNTS, withoutVerifiedEmail: 0, linkCheck: { ok: true, problems: [] } });

    expect((await api(`/api/campaigns/${campaign.id}/launch`, { method: 'POST' })).status).toBe(200);
    await sink.waitFor(() => sink.messages.length >= ACCOUNTS, 150_000);
    // Launching again is refused, flags nobody twice and sends nothing more.
    const again = await api(`/api/campaigns/${campaign.id}/launch`, { method: 'POST' });
    expect(again.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 2500));

    // Exactly one notice per account as the receiver counts them (by Message-ID). A resend of an accepted message
    // keeps its Message-ID, so a receiver drops it; report any, and allow at most 0.1%.
    const messageIds = new Set(sink.messages.map((m) => m.parsed.messageId));
    expect(messageIds.size).toBe(ACCOUNTS);
    expect(new Set(sink.messages.map((m) => m.to)).size).toBe(ACCOUNTS);
    const duplicates = sink.messages.length - messageIds.size;
    if (duplicates) console.info(`${duplicates} resent message(s) with the same Message-ID`);
    expect(duplicates).toBeLessThanOrEqual(ACCOUNTS / 1000);
    const problems = sink.messages.flatMap(linkProblems);
    expect(problems.slice(0, 20)).toEqual([]);
    for (const mail of sink.messages) expect(mail.parsed.text).toContain(campaign.phrase);

    const hostile = sink.to('n50@example.org')[0];
    expect(hostile.parsed.text).toContain('bob[at]evil[.]example');
    const german = sink.to('n7@example.org')[0];
    expect(german.parsed.subject).toMatch(/^Sicherheitshinweis INC-1001/);

    const progress = t.get(CampaignProgressService);
    expect(await progress.counts(campaign.id)).toEqual(await progress.recount(campaign.id));
    expect((await progress.counts(campaign.id)).notice_sent).toBe(ACCOUNTS);
    const [accounts] = await t.prisma.$queryRawUnsafe<{ flagged: number; changed: number }[]>(
      `SELECT count(*) FILTER (WHERE must_reset AND must_reset_campaign_id = $1)::int AS flagged,
              count(*) FILTER (WHERE password_hash <> 'hash-' || id)::int AS changed FROM accounts`,
      campaign.id,
    );
    expect(accounts).toEqual({ flagged: ACCOUNTS, changed: 0 });
    expect(await t.prisma.session.count({ where: { revokedAt: null } })).toBe(0);
    expect(await t.prisma.resetToken.count({ where: { revokedAt: null } })).toBe(0);
    const actions = (await t.prisma.auditEntry.findMany({ where: { campaignId: campaign.id }, orderBy: { id: 'asc' } })).map((e) => e.action);
    expect(actions).toEqual(['campaign.create', 'campaign.launch', 'campaign.flagged']);
    const status = await (await api(`/api/campaigns/${campaign.id}/progress`)).json();
    // Every notice is out, but nobody has reset yet: the campaign keeps running.
    expect(status).toMatchObject({ status: 'running', flaggingDone: true, total: ACCOUNTS, open: ACCOUNTS });
  }, 180_000);
});
