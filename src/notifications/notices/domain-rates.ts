import { MAX_NOTICE_RATE } from './notice-rate.js';

/** Notices per second per recipient domain; `*` applies to every domain not named (each such domain on its own). */
export type DomainRates = Record<string, number>;

export const ANY_DOMAIN = '*';

const DOMAIN = /^(?:\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)$/;

/** Parses `gmail.com=20,outlook.com=20,*=50`; throws an Error naming the bad entry. An empty text means no domain pacing. */
export function parseDomainRates(text: string): DomainRates {
  const rates: DomainRates = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([^=\s]+)\s*=\s*(\d+)$/.exec(entry);
    const domain = match?.[1].toLowerCase();
    if (!match || !DOMAIN.test(domain!)) throw new Error(`"${entry}" is not a domain rate like gmail.com=20 or *=50`);
    const rate = Number(match[2]);
    if (rate < 1 || rate > MAX_NOTICE_RATE) throw new Error(`"${entry}": a domain rate must be 1 to ${MAX_NOTICE_RATE} per second`);
    if (domain! in rates) throw new Error(`"${domain}" is given twice`);
    rates[domain!] = rate;
  }
  return rates;
}

export function formatDomainRates(rates: DomainRates): string {
  return Object.entries(rates).map(([domain, rate]) => `${domain}=${rate}`).join(',');
}

/** The stored JSON column, read defensively (a hand-edited row must not stop the sender). */
export function domainRatesFrom(json: unknown): DomainRates {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return {};
  return Object.fromEntries(Object.entries(json).filter(([, rate]) => typeof rate === 'number' && rate > 0)) as DomainRates;
}

export function recipientDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** The configured rate for mail to `domain`, if any. */
export function rateForDomain(rates: DomainRates, domain: string): number | undefined {
  return rates[domain] ?? rates[ANY_DOMAIN];
}

/** A 421 or an enhanced status 4.7.x: the receiver asks us to send more slowly (throttling, reputation, greylisting). */
export function isSlowDown(reply: string): boolean {
  return /^421\b/.test(reply.trim()) || /\b4\.7\.\d{1,3}\b/.test(reply);
}
