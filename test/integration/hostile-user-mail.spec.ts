import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, CHANGED_SUBJECT, LINK_SUBJECT, createCampaign, csrfFrom, flagAccounts, mailTo, resetTokenFrom, seedAccount, type SeededAccount } from '../support/auth-flow.js';
import { visibleText } from '../support/mail-text.js';
import type { ReceivedMail } from '../support/smtp-sink.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const PUBLIC_URL = 'https://reset.corp.test';
/** Display names an attacker who controls directory data would choose: a link beside the real one, a bare domain, markup. */
const HOSTILE_NAMES = [
  'http://evil.example/reset',
  'evil.example',
  '<a href="https://evil.example/reset">Reset here</a>',
  'Bob www.evil.example bob@evil.example 10.0.0.1',
];

/** Everything a linkifier could turn into a link, found independently of the product's own check. */
function linksIn(text: string): string[] {
  const folded = text.normalize('NFKC');
  return [
    ...folded.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s<>"')]+/gi),
    ...folded.matchAll(/\bwww\d{0,3}\.\S+/gi),
    ...folded.matchAll(/(?<![/\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:example|test|com|org)\b(?![/\w])/gi),
    ...folded.matchAll(/[a-z0-9._%+-]+@[a-z0-9-]+/gi),
    ...folded.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g),
    ...folded.matchAll(/\b(?:javascript|mailto|data):/gi),
  ].map((m) => m[0]);
}

/** The product's own URL of the given kind, exactly once per body part and nowhere else; every other link counted as one. */
function expectOnlyOwnLink(mail: ReceivedMail, kind: 'reset' | 'secret' | null, where: string): void {
  const html = typeof mail.parsed.html === 'string' ? mail.parsed.html : '';
  const own = kind ? new RegExp(`^${PUBLIC_URL.replace(/[.]/g, '\\.')}/${kind}/[A-Za-z0-9_-]{43}$`) : null;
  const expected = kind ? 1 : 0;
  expect(linksIn(mail.parsed.subject ?? ''), `${where}: subject`).toEqual([]);
  for (const [part, text] of [['text', mail.parsed.text ?? ''], ['html text', visibleText(html)]] as const) {
    const links = linksIn(text);
    expect(links.length, `${where}: links in the ${part}: ${links.join(' | ')}`).toBe(expected);
    for (const link of links) expect(link, `${where}: ${part}`).toMatch(own!);
  }
  const hrefs = [...html.matchAll(/href\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
  expect(hrefs.length, `${where}: hrefs ${hrefs.join(' | ')}`).toBe(expected);
  for (const href of hrefs) expect(href).toMatch(own!);
  expect(html, `${where}: raw markup from the name`).not.toMatch(/<a\b[^>]*evil/i);
}

describe('hostile display names in the mails users ask for', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;
  let accounts: SeededAccount[];

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, PUBLIC_URL });
    responder = await t.operatorToken('responder');
    const campaign = await createCampaign(t);
    accounts = [];
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const account = await seedAccount(t, { password: `hostile name ${i} old password` });
      await t.prisma.account.update({ where: { id: account.id }, data: { displayName: name } });
      accounts.push(account);
    }
    await flagAccounts(t, campaign.id, accounts.map((a) => a.id));
  });

  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('carries exactly one link, the product’s own reset URL, in the reset-link mail, and none in the password-changed mail', async () => {
    for (const [i, account] of accounts.entries()) {
      const browser = new Browser(t.baseUrl, `10.7.0.${i + 1}`);
      expect((await browser.login(account.username, account.password)).location).toBe('/pre-reset');
      const preReset = await browser.get('/pre-reset');
      expect((await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(preReset.body) })).status).toBe(303);
      await sink.waitFor(() => mailTo(sink, account.email, LINK_SUBJECT).length === 1);
      const link = mailTo(sink, account.email, LINK_SUBJECT)[0];
      expectOnlyOwnLink(link, 'reset', `reset-link mail for ${HOSTILE_NAMES[i]}`);

      const token = resetTokenFrom(link);
      const form = await browser.get(`/reset/${token}`);
      const newPassword = `seven copper kettles hum ${i}`;
      expect((await browser.post(`/reset/${token}`, { newPassword, confirmPassword: newPassword, _csrf: csrfFrom(form.body) })).status).toBe(303);
      await sink.waitFor(() => mailTo(sink, account.email, CHANGED_SUBJECT).length === 1);
      expectOnlyOwnLink(mailTo(sink, account.email, CHANGED_SUBJECT)[0], null, `password-changed mail for ${HOSTILE_NAMES[i]}`);
    }
    // The name is still there, defanged rather than dropped.
    expect(mailTo(sink, accounts[1].email, LINK_SUBJECT)[0].parsed.text).toContain('evil[.]example');
  });

  it('carries exactly one link, the product’s own secret URL, in the temporary-password mail', async () => {
    for (const [i, account] of accounts.entries()) {
      const res = await fetch(`${t.baseUrl}/api/accounts/${account.username}/temporary-password`, {
        method: 'POST',
        headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: true }),
      });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { email?: { sent: boolean } }).email?.sent).toBe(true);
      const isSecretMail = (m: ReceivedMail) => /temporary password/i.test(m.parsed.subject ?? '');
      await sink.waitFor(() => sink.to(account.email).some(isSecretMail));
      expectOnlyOwnLink(sink.to(account.email).find(isSecretMail)!, 'secret', `secret-link mail for ${HOSTILE_NAMES[i]}`);
    }
  });
});
