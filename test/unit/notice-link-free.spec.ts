import { describe, expect, it } from 'vitest';
import { checkMail, findLinks, neutralise } from '../../src/notifications/link-free.js';

const HOSTILE = [
  'Bob http://evil.example',
  'bob@evil.example',
  'evil.example',
  'www.evil.example',
  'WWW.EVIL.COM',
  '<a href="https://evil.example">click</a>',
  'javascript:alert(1)',
  'mailto:bob',
  'data:text/html;base64,AAAA',
  'ftp://files.evil.example',
  '//evil.example/path',
  'ｈｔｔｐｓ：／／ｅｖｉｌ．ｅｘａｍｐｌｅ',
  'evil\u3002example',
  'ev\u200bil.exa\u200dmple',
  'tel:+15551234',
  '10.0.0.1',
  'sub.domain.evil.co.uk',
  'x@y',
  'Bob\nhttps://evil.example',
  'Dr.Who',
];

describe('findLinks', () => {
  it.each(HOSTILE)('finds a link in %j', (value) => {
    expect(findLinks('text', value).length).toBeGreaterThan(0);
  });

  it.each(['Jane Doe', 'J. R. R. Tolkien', 'Version 3.5 of the policy', 'e.g. this', 'Reset at 10:30 today', 'INC-2024-001', 'amber falcon', "O'Brien, Seán"])(
    'passes ordinary text %j',
    (value) => {
      expect(findLinks('text', value)).toEqual([]);
    },
  );

  it('decodes entities in HTML before checking', () => {
    expect(findLinks('html', '<p>h&#116;tp&#58;//evil&period;example</p>', true).map((p) => p.rule)).toContain('URL scheme');
    expect(findLinks('html', '<p>evil<b></b>.example</p>', true).map((p) => p.rule)).toContain('domain name');
    expect(findLinks('html', '<p>Jane &amp; John</p>', true)).toEqual([]);
  });

  it('checks subject, both parts and headers, naming the part and the offending text', () => {
    const problems = checkMail({ subject: 'see www.x.org', text: 'ok', html: '<a href="x">x</a>', headers: { 'X-Info': 'mailto:x' } });
    expect(problems.map((p) => p.part)).toEqual(expect.arrayContaining(['subject', 'html', 'header X-Info']));
    expect(problems.find((p) => p.part === 'subject')?.text).toBe('www.x.org');
  });

  it('lets a mail the user asked for carry its own link exactly once per body part, and nothing else', () => {
    const own = 'https://reset.corp.test/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const html = `<p><a href="${own}">${own}</a></p>`;
    expect(checkMail({ subject: 'Your link', text: `open ${own}`, html }, own)).toEqual([]);
    const rules = (mail: { subject: string; text: string; html: string }) => checkMail(mail, own).map((p) => `${p.part}: ${p.text}`);
    expect(rules({ subject: 'Your link', text: `open ${own} or ${own}`, html })).toEqual(['text: 2 times']);
    expect(rules({ subject: 'Your link', text: 'no link here', html })).toEqual(['text: 0 times']);
    expect(rules({ subject: 'Your link', text: `open ${own} or http://evil.example/reset`, html })).toEqual(['text: http:', 'text: evil.example']);
    expect(rules({ subject: 'Your link', text: own, html: `${html}<a href="https://evil.example">x</a>` })).toContain('html: href');
    expect(rules({ subject: own, text: own, html }).some((p) => p.startsWith('subject:'))).toBe(true);
    // Without a link of its own, the product's address counts like any other.
    expect(checkMail({ subject: 'Changed', text: own, html: '<p>ok</p>' }).map((p) => p.part)).toContain('text');
  });
});

describe('neutralise', () => {
  it.each(HOSTILE)('leaves nothing link-like in %j', (value) => {
    const safe = neutralise(value);
    expect(findLinks('text', safe)).toEqual([]);
    // Also once HTML-escaped, as the HTML part renders it.
    const escaped = safe.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/=/g, '&#x3D;');
    expect(findLinks('html', `<p>${escaped}</p>`, true)).toEqual([]);
  });

  it('defangs in a readable way and leaves ordinary names alone', () => {
    expect(neutralise('bob@evil.example')).toBe('bob[at]evil[.]example');
    expect(neutralise('Bob http://evil.example')).toBe('Bob http[:]//evil[.]example');
    expect(neutralise('J. Smith')).toBe('J. Smith');
    expect(neutralise('Seán O\'Brien')).toBe("Seán O'Brien");
  });

  it('caps the length of a value', () => {
    expect(neutralise('a'.repeat(1000)).length).toBeLessThanOrEqual(200);
  });
});
