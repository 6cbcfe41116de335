import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import { NoticeRendererService } from '../../src/notifications/notices/notice-renderer.service.js';
import { sendSlotsFor } from '../../src/notifications/notices/notice-rate.js';
import { TemplatesService } from '../../src/templates/templates.service.js';

const campaign = { id: 7, incidentRef: 'INC-7', reason: 'Passwords may have leaked.', phrase: 'amber falcon', template: 'breach-notice' };
const config = loadConfig({ NODE_ENV: 'test', MAIL_FROM: 'Security <security@corp.example>' });

describe('NoticeRendererService', () => {
  const renderer = new NoticeRendererService(new TemplatesService(config), config);

  it('renders the shipped template link-free for every locale, with hostile account data neutralised', () => {
    for (const locale of ['en', 'de', 'fr-CA']) {
      const notice = renderer.render(campaign, { id: 3, username: 'bob@evil.example', displayName: 'Bob http://evil.example', locale });
      expect(notice.problems).toEqual([]);
      expect(notice.text).toContain('amber falcon');
      expect(notice.text).toContain('Bob http[:]//evil[.]example');
      expect(notice.html).not.toMatch(/<a\b|href/i);
      expect(notice.messageId).toMatch(/^<reset-notice-7-3\.[0-9a-f]+@corp\.example>$/);
    }
    expect(renderer.previewTemplate('breach-notice').problems).toEqual([]);
  });

  it('rejects a template that carries a link, naming the offending text', () => {
    const templates = { mailExists: () => true, renderMail: () => ({ subject: 'Notice', text: 'Reset at www.corp.example/reset', html: '<p>ok</p>' }) };
    const bad = new NoticeRendererService(templates as unknown as TemplatesService, config);
    const { problems } = bad.checkTemplate(campaign);
    expect(problems).toEqual([expect.objectContaining({ part: 'text', text: 'www.corp.example/reset' }), expect.anything()]);
  });

  it('refuses a template whose text next to an interpolation would complete a link with edge-case account data', () => {
    const glued = { mailExists: () => true, renderMail: (_n: string, _l: string, v: Record<string, string>) => ({ subject: 'Notice', text: `Hello ${v.displayName}corp`, html: '<p>ok</p>' }) };
    const bad = new NoticeRendererService(glued as unknown as TemplatesService, config);
    expect(bad.checkTemplate(campaign).problems).toEqual([expect.objectContaining({ part: 'text', rule: 'domain name' })]);
    const notice = bad.render(campaign, { id: 3, username: 'jdoe', displayName: 'Jane Doe', locale: 'en' });
    expect(notice.problems).toEqual([expect.objectContaining({ part: 'text', rule: 'domain name' })]);
  });

  it('checks each notice\'s account values, so a value neutralise() lets through is never sent', () => {
    const notice = renderer.render(campaign, { id: 3, username: 'jdoe', displayName: 'see www.', locale: 'en' });
    expect(notice.problems).toEqual([expect.objectContaining({ part: 'display name', rule: 'www.' })]);
    expect(renderer.render(campaign, { id: 4, username: 'jdoe', displayName: 'J. Smith', locale: 'en' }).problems).toEqual([]);
  });

  it('sends only as many notices at once as the rate needs', () => {
    expect(sendSlotsFor(50, 100, 10)).toBe(5);
    expect(sendSlotsFor(1, 40, 10)).toBe(1);
    expect(sendSlotsFor(5000, 40, 10)).toBe(10);
  });

  it('refuses at start an organisation name or help-desk contact that would put a link into every mail', () => {
    for (const env of [{ HELPDESK_CONTACT: 'helpdesk@corp.example' }, { HELPDESK_CONTACT: 'https://help.corp.example' }, { ORGANISATION_NAME: 'corp.example' }]) {
      const withContact = loadConfig({ NODE_ENV: 'test', ...env });
      expect(() => new NoticeRendererService(new TemplatesService(withContact), withContact), JSON.stringify(env)).toThrowError(/must not look like a link or an address/);
    }
    const fine = loadConfig({ NODE_ENV: 'test', ORGANISATION_NAME: 'Acme Widgets GmbH', HELPDESK_CONTACT: '+49 30 1234 5678 (Mon-Fri 8-18)' });
    const checked = new NoticeRendererService(new TemplatesService(fine), fine);
    const { sample, problems } = checked.previewTemplate('breach-notice', 'de');
    expect(problems).toEqual([]);
    expect(sample.text).toContain('Ihr Sicherheitsteam, Acme Widgets GmbH');
    expect(sample.text).toContain('Service Desk: +49 30 1234 5678 (Mon-Fri 8-18)');
  });
});
