import { describe, expect, it } from 'vitest';
import { describeDuration, formatDateTime, languageOf } from '../../src/templates/locale.js';

const AT = new Date('2026-12-02T06:30:00Z');

describe('languageOf', () => {
  it.each([
    ['de', 'de'],
    ['de-AT', 'de'],
    ['fr_FR', 'fr'],
    ['FR-ca', 'fr'],
    ['en-GB', 'en'],
    ['pt-BR', 'en'],
    ['', 'en'],
    [null, 'en'],
    ['<script>', 'en'],
  ])('%j → %s', (locale, language) => {
    expect(languageOf(locale)).toBe(language);
  });
});

describe('formatDateTime', () => {
  it('writes a time the way its reader does, in the configured zone', () => {
    expect(formatDateTime(AT, 'en', 'UTC')).toBe('December 2, 2026 at 6:30 AM UTC');
    expect(formatDateTime(AT, 'en-GB', 'UTC')).toBe('2 December 2026 at 06:30 UTC');
    expect(formatDateTime(AT, 'de', 'Europe/Berlin')).toBe('2. Dezember 2026 um 07:30 MEZ');
    expect(formatDateTime(AT, 'fr_FR', 'UTC')).toBe('2 décembre 2026 à 06:30 UTC');
    expect(formatDateTime(AT, 'pt-BR', 'UTC')).toBe('December 2, 2026 at 6:30 AM UTC');
  });
});

describe('describeDuration', () => {
  it('names minutes and whole hours in the reader’s language', () => {
    expect(describeDuration(30, 'en')).toBe('30 minutes');
    expect(describeDuration(1, 'en')).toBe('1 minute');
    expect(describeDuration(60, 'en')).toBe('1 hour');
    expect(describeDuration(120, 'de')).toBe('2 Stunden');
    expect(describeDuration(30, 'de-CH')).toBe('30 Minuten');
    expect(describeDuration(60, 'fr')).toBe('1\u00a0heure');
    expect(describeDuration(90, 'fr')).toBe('90 minutes');
  });
});
