/**
 * The link rule for every mail this product sends. A mail must give a mail client nothing to turn into a link: no href
 * or link-bearing markup, no URL scheme, no `www.`, no bare domain or IP address, no email address. The one exception is
 * the product's own reset or secret link in a mail the user asked for, exactly once. `findLinks` detects links;
 * `neutralise` rewrites untrusted values (account data) so they can no longer form one.
 */

export interface LinkProblem {
  /** Which part of the notice: subject, text, html, or a header name. */
  part: string;
  /** What was found, as it appears (after decoding). */
  text: string;
  rule: string;
}

const SCHEMES = [
  'https?', 'ftps?', 'sftp', 'mailto', 'tel', 'callto', 'sms', 'mms', 'data', 'javascript', 'vbscript', 'livescript', 'file',
  'news', 'nntp', 'telnet', 'ssh', 'git', 'svn', 'irc', 'ircs', 'xmpp', 'sips?', 'skype', 'facetime', 'webcal', 'feed',
  'ldaps?', 'smb', 'cifs', 'magnet', 'bitcoin', 'geo', 'maps', 'market', 'intent', 'wss?', 'blob', 'about', 'chrome',
  'view-source', 'whatsapp', 'tg', 'slack', 'zoommtg', 'msteams', 'ms-[a-z-]+', 'res', 'jar', 'outlook', 'onenote',
].join('|');

const RULES: Array<{ rule: string; pattern: RegExp }> = [
  { rule: 'markup that carries a link', pattern: /href|<\s*a\b|\b(?:src|action|formaction|background|poster)\s*=|url\s*\(/gi },
  { rule: 'URL scheme', pattern: new RegExp(`\\b(?:${SCHEMES})\\s*:|\\b[a-z][a-z0-9+.-]{1,30}:\\/\\/`, 'gi') },
  { rule: 'www.', pattern: /\bwww\d{0,3}\.\S*/gi },
  { rule: 'email address', pattern: /[a-z0-9._%+'-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*/gi },
  { rule: 'domain name', pattern: /\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z][a-z0-9-]{1,62}\b/gi },
  { rule: 'IP address', pattern: /\b\d{1,3}(?:\.\d{1,3}){3}\b/g },
];

/** Invisible and direction-changing characters that could hide a link from a check yet leave it intact for a client. */
const INVISIBLE = /[\p{Cf}\p{Cc}]/gu;
const DOT_LIKE = /[\u3002\uFF0E\uFF61\u2024\uFE52]/g;

/** What a reader (and a client's linkifier) effectively sees: compatibility forms folded, invisibles removed. */
function canonical(text: string): string {
  return text.normalize('NFKC').replace(DOT_LIKE, '.').replace(/[\r\n\t]/g, ' ').replace(INVISIBLE, '');
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', colon: ':', period: '.', commat: '@', sol: '/',
  fullstop: '.', lpar: '(', rpar: ')', equals: '=', num: '#', percnt: '%', quest: '?', excl: '!',
};

function decodeEntities(html: string): string {
  return html
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16) % 0x110000))
    .replace(/&#(\d+);?/g, (_, dec: string) => String.fromCodePoint(Number(dec) % 0x110000))
    .replace(/&([a-z]+);/gi, (whole, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? whole);
}

/** Every link-like thing in one part of a notice. HTML parts are checked as written and with entities decoded. */
export function findLinks(part: string, content: string, html = false): LinkProblem[] {
  const variants = html ? [content, decodeEntities(content), decodeEntities(content).replace(/<[^>]*>/g, '')] : [content];
  const problems = new Map<string, LinkProblem>();
  for (const variant of variants) {
    const text = canonical(variant);
    for (const { rule, pattern } of RULES) {
      for (const match of text.matchAll(pattern)) {
        const found = match[0];
        problems.set(`${rule}\u0000${found}`, { part, text: found, rule });
      }
    }
  }
  return [...problems.values()];
}

export interface MailContent {
  subject: string;
  text: string;
  html: string;
  /** Headers a reader may see (not From/To/Message-ID, which necessarily hold addresses). */
  headers?: Record<string, string>;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' };

/** The product's link as a body part may carry it: in HTML as one anchor showing its own address, or the address alone. */
function ownLinkForms(link: string, html: boolean): string[] {
  if (!html) return [link];
  const escaped = link.replace(/[&<>"'`=]/g, (c) => HTML_ESCAPES[c]!);
  return [...new Set([escaped, link])].flatMap((url) => [`<a href="${url}">${url}</a>`, url]);
}

/** One body part with the product's own link taken out: what is left must be link-free, and the link there exactly `expected` times. */
function checkBody(part: string, content: string, html: boolean, ownLink: string | undefined): LinkProblem[] {
  let rest = content;
  let count = 0;
  for (const form of ownLink ? ownLinkForms(ownLink, html) : []) {
    const pieces = rest.split(form);
    count += pieces.length - 1;
    rest = pieces.join(' ');
  }
  const expected = ownLink ? 1 : 0;
  const problems = findLinks(part, rest, html);
  if (count !== expected) problems.push({ part, text: `${count} times`, rule: `the product's own link must appear ${expected} time(s)` });
  return problems;
}

/**
 * Checks everything a recipient reads in a mail: subject, both body parts and the extra headers. `ownLink` is the one
 * link a mail the user asked for carries (its reset or secret URL): it must appear exactly once in each body part and
 * nowhere else; without it, nothing may be a link.
 */
export function checkMail(mail: MailContent, ownLink?: string): LinkProblem[] {
  return [
    ...findLinks('subject', mail.subject),
    ...checkBody('text', mail.text, false, ownLink),
    ...checkBody('html', mail.html, true, ownLink),
    ...Object.entries(mail.headers ?? {}).flatMap(([name, value]) => findLinks(`header ${name}`, value)),
  ];
}

export function describeProblems(problems: LinkProblem[]): string {
  return problems.map((p) => `${p.part}: ${p.rule} "${p.text}"`).join('; ');
}

export const MAX_VALUE_LENGTH = 200;

/**
 * Makes an untrusted value (a display name, a username) unable to form a link, in the way security teams defang
 * indicators: `evil.example` → `evil[.]example`, `bob@x` → `bob[at]x`, `http://` → `http[:]//`, `href` → `hr-ef`.
 * Only dots between two visible characters are broken, so `J. Smith` stays as it is.
 */
export function neutralise(value: unknown): string {
  const text = canonical(String(value ?? ''))
    .slice(0, MAX_VALUE_LENGTH)
    .replace(/(?<=\S)\.(?=\S)/g, '[.]')
    .replace(/@/g, '[at]')
    .replace(/(?<=[a-z0-9])\s*:/gi, '[:]')
    .replace(/href/gi, 'hr-ef')
    .replace(/\b(src|action|formaction|background|poster)(\s*)=/gi, '$1$2[=]')
    .replace(/url(\s*)\(/gi, 'url$1[(]')
    .replace(/<(\s*)a\b/gi, '<$1[a]');
  return text;
}
