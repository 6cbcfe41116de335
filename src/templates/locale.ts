/** The languages mails and pages are written in; any other locale reads English. */
export const LANGUAGES = ['en', 'de', 'fr'] as const;
export type Language = (typeof LANGUAGES)[number];

/** `de-AT` → de, `fr_FR` → fr, anything else → en. */
export function languageOf(locale: string | null | undefined): Language {
  const language = (locale ?? '').split(/[-_]/)[0]!.toLowerCase();
  return (LANGUAGES as readonly string[]).includes(language) ? (language as Language) : 'en';
}

/** The locale Intl formats with: the reader's own (`en-GB`, `fr-CA`) when its language is one we write, else English. */
function intlLocale(locale: string | null | undefined): string {
  const language = languageOf(locale);
  const tag = (locale ?? '').replace('_', '-');
  if (tag.toLowerCase().startsWith(language) && tag !== language) {
    try {
      return Intl.getCanonicalLocales(tag)[0] ?? language;
    } catch {
      return language;
    }
  }
  return language;
}

/** A time as the reader writes it, in the configured zone with the zone named: `2. Dezember 2026 um 07:30 MEZ`. */
export function formatDateTime(date: Date, locale: string | null | undefined, timeZone: string): string {
  return new Intl.DateTimeFormat(intlLocale(locale), {
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZone,
    timeZoneName: 'short',
  }).format(date);
}

/** `30 minutes`, `2 Stunden`, `1 heure`: whole hours as hours, anything else in minutes. */
export function describeDuration(minutes: number, locale: string | null | undefined): string {
  const hours = minutes % 60 === 0;
  return new Intl.NumberFormat(intlLocale(locale), { style: 'unit', unit: hours ? 'hour' : 'minute', unitDisplay: 'long' }).format(hours ? minutes / 60 : minutes);
}
