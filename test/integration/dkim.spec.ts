import { generateKeyPairSync } from 'node:crypto';
import { authenticate } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFile } from '../support/factories.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const DOMAIN = 'notices.example.org';
const SELECTOR = 'rt2026';
const ACCOUNTS = 12;

describe('DKIM signing', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let token: string;
  let publicKeyRecord: string;

  /** The receiver's DNS: only the test's selector record exists. */
  const resolver = async (name: string, rr: string) => {
    if (rr === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[publicKeyRecord]];
    throw Object.assign(new Error(`no ${rr} record for ${name}`), { code: 'ENOTFOUND' });
  };

  beforeAll(async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    publicKeyRecord = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
    const keyFile = await tempFile(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'pem');
    sink = await new SmtpSink().start();
    t = await createTestApp({
      SMTP_URL: sink.url,
      MAIL_FROM: `Security Team <security@${DOMAIN}>`,
      DKIM_DOMAIN: DOMAIN,
      DKIM_SELECTOR: SELECTOR,
      DKIM_PRIVATE_KEY_FILE: keyFile,
      CAMPAIGN_SWEEP_INTERVAL: '1s',
    });
    token = await t.operatorToken('responder');
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO accounts (username, email, email_verified, display_name, password_hash)
       SELECT 'd' || i, 'd' || i || '@example.org', true, 'Person ' || i, 'hash' FROM generate_series(1, ${ACCOUNTS}) i`,
    );
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('signs every notice so that the receiver verifies it against the published key, and keeps the auto-reply headers', async () => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${t.baseUrl}/api/campaigns`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'Signed', incidentRef: 'INC-9', reason: 'Passwords may have leaked.', scope: 'all', noticeRate: 50 }),
    });
    expect(created.status).toBe(201);
    const { campaign } = await created.json();
    expect((await fetch(`${t.baseUrl}/api/campaigns/${campaign.id}/launch`, { method: 'POST', headers })).status).toBe(200);
    await sink.waitFor(() => sink.messages.length >= ACCOUNTS);

    expect(sink.messages).toHaveLength(ACCOUNTS);
    for (const mail of sink.messages) {
      const { dkim } = await authenticate(mail.raw, { ip: '127.0.0.1', helo: 'localhost', sender: `security@${DOMAIN}`, mta: 'mx.example.org', resolver: resolver as never });
      expect(dkim.results.map((r) => ({ domain: r.signingDomain, selector: r.selector, result: r.status.result }))).toEqual([
        { domain: DOMAIN, selector: SELECTOR, result: 'pass' },
      ]);
      expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');
      expect(mail.parsed.headers.get('x-auto-response-suppress')).toBe('All');
    }

    // A mail altered in transit no longer verifies: the check above can fail.
    const tampered = sink.messages[0].raw.replace(campaign.phrase, 'something else');
    const { dkim } = await authenticate(tampered, { ip: '127.0.0.1', helo: 'localhost', sender: `security@${DOMAIN}`, mta: 'mx.example.org', resolver: resolver as never });
    expect(dkim.results[0].status.result).not.toBe('pass');
  }, 60_000);
});
