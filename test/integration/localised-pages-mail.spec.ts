import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, createCampaign, csrfFrom, flagAccounts, seedAccount, type SeededAccount } from '../support/auth-flow.js';
import type { ReceivedMail } from '../support/smtp-sink.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const ORGANISATION = 'Acme Widgets GmbH';
const HELPDESK = '+49 30 1234 5678';

/** What each language must say, written out: page headings, mail subjects and a sentence of each mail. */
const EXPECTED = {
  de: {
    signIn: 'Anmelden',
    preReset: 'Sie müssen ein neues Passwort wählen',
    newPassword: 'Neues Passwort wählen',
    account: 'Ihr Konto',
    linkSubject: 'Ihr Link zum Zurücksetzen des Passworts',
    changedSubject: 'Ihr Passwort wurde geändert',
    secretSubject: 'Ihr vorläufiges Passwort kann einmal angesehen werden',
    changedAt: /am \d{1,2}\. [A-Za-zä]+ \d{4} um \d{2}:\d{2} (MEZ|MESZ) geändert/,
  },
  fr: {
    signIn: 'Connexion',
    preReset: 'Vous devez choisir un nouveau mot de passe',
    newPassword: 'Choisir un nouveau mot de passe',
    account: 'Votre compte',
    linkSubject: 'Votre lien de réinitialisation du mot de passe',
    changedSubject: 'Votre mot de passe a été modifié',
    secretSubject: 'Votre mot de passe temporaire peut être consulté une fois',
    changedAt: /modifié le \d{1,2} [a-zéû]+ \d{4} à \d{2}:\d{2} UTC\+1/,
  },
  en: {
    signIn: 'Sign in',
    preReset: 'You need to choose a new password',
    newPassword: 'Choose a new password',
    account: 'Your account',
    linkSubject: 'Your password reset link',
    changedSubject: 'Your password was changed',
    secretSubject: 'Your temporary password is ready to view once',
    changedAt: /changed on [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2} (AM|PM) GMT\+1/,
  },
} as const;

describe('pages and mails in the user’s language, with the organisation and its help desk', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let responder: string;
  const accounts: Record<'de' | 'fr' | 'en' | 'pt', SeededAccount> = {} as never;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    t = await createTestApp({ SMTP_URL: sink.url, ORGANISATION_NAME: ORGANISATION, HELPDESK_CONTACT: HELPDESK, TIME_ZONE: 'Europe/Paris' });
    responder = await t.operatorToken('responder');
    const campaign = await createCampaign(t);
    for (const [key, locale] of [['de', 'de-DE'], ['fr', 'fr_FR'], ['en', 'en'], ['pt', 'pt-BR']] as const) {
      accounts[key] = await seedAccount(t, { password: `${key} account old password` });
      await t.prisma.account.update({ where: { id: accounts[key].id }, data: { locale } });
    }
    await flagAccounts(t, campaign.id, Object.values(accounts).map((a) => a.id));
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  const mail = async (account: SeededAccount, subject: string): Promise<ReceivedMail> => {
    await sink.waitFor(() => sink.to(account.email).some((m) => m.parsed.subject === subject));
    return sink.to(account.email).find((m) => m.parsed.subject === subject)!;
  };
  const expectOrganisation = (text: string, where: string) => {
    expect(text, where).toContain(ORGANISATION);
    expect(text, where).toContain(HELPDESK);
  };

  it('shows the sign-in page in the browser’s language, English otherwise, with the organisation and help desk', async () => {
    for (const [header, heading] of [['de-DE,de;q=0.9,en;q=0.5', 'Anmelden'], ['fr', 'Connexion'], ['pt-BR', 'Sign in'], ['', 'Sign in']] as const) {
      const page = await fetch(`${t.baseUrl}/login`, { headers: { accept: 'text/html', 'accept-language': header } });
      const html = await page.text();
      expect(html, header).toContain(`<h1>${heading}</h1>`);
      expectOrganisation(html, `sign-in page for ${header}`);
    }
    const wrong = await new Browser(t.baseUrl).request('GET', '/login', { headers: { 'accept-language': 'de' } });
    const failed = await fetch(`${t.baseUrl}/login`, {
      method: 'POST',
      headers: { 'accept-language': 'de', 'content-type': 'application/x-www-form-urlencoded', cookie: wrong.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') },
      body: new URLSearchParams({ username: 'nobody', password: 'wrong password', _csrf: csrfFrom(wrong.body) }).toString(),
    });
    expect(failed.status).toBe(401);
    expect(await failed.text()).toContain('Benutzername oder Passwort ist falsch.');
  });

  it.each(['de', 'fr', 'en', 'pt'] as const)('walks a %s account through pages and mails in its language', async (key) => {
    const lang = key === 'pt' ? 'en' : key;
    const words = EXPECTED[lang];
    const account = accounts[key];
    const browser = new Browser(t.baseUrl);
    expect((await browser.login(account.username, account.password)).location).toBe('/pre-reset');
    const preReset = await browser.get('/pre-reset');
    expect(preReset.body).toContain(`<h1>${words.preReset}</h1>`);
    expect(preReset.body).toContain(`lang="${lang}"`);
    await browser.post('/pre-reset/send-link', { _csrf: csrfFrom(preReset.body) });

    const link = await mail(account, words.linkSubject);
    expectOrganisation(link.parsed.text ?? '', `${key} reset-link mail`);
    const token = /\/reset\/([A-Za-z0-9_-]{43})/.exec(link.parsed.text ?? '')![1];
    const form = await browser.get(`/reset/${token}`);
    expect(form.body).toContain(`<h1>${words.newPassword}</h1>`);
    const newPassword = `copper kettles hum softly ${key}`;
    expect((await browser.post(`/reset/${token}`, { newPassword, confirmPassword: newPassword, _csrf: csrfFrom(form.body) })).status).toBe(303);

    const changed = await mail(account, words.changedSubject);
    expectOrganisation(changed.parsed.text ?? '', `${key} password-changed mail`);
    expect(changed.parsed.text).toMatch(words.changedAt);
    expect(changed.parsed.text).not.toMatch(/\d{4}-\d{2}-\d{2}/);

    const full = new Browser(t.baseUrl);
    expect((await full.login(account.username, newPassword)).location).toBe('/account');
    const page = await full.get('/account');
    expect(page.body).toContain(`<h1>${words.account}</h1>`);
    expect(page.body).not.toMatch(/\d{4}-\d{2}-\d{2}T/);

    const issued = await fetch(`${t.baseUrl}/api/accounts/${account.username}/temporary-password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${responder}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: true }),
    });
    expect(issued.status).toBe(201);
    const secret = await mail(account, words.secretSubject);
    const text = secret.parsed.text ?? '';
    expectOrganisation(text, `${key} temporary-password mail`);
    expect(text, 'names who issued it').toContain('responder1');
    expect(text).not.toMatch(/at your request|auf Ihren Wunsch|à votre demande/i);
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}/);
  });
});
