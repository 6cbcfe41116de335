import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import Handlebars from 'handlebars';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PROJECT_ROOT } from '../config/project-root.js';
import { LANGUAGES, type Language, languageOf } from './locale.js';

export const TEMPLATES_DIR = path.join(PROJECT_ROOT, 'templates');

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Handlebars templates from templates/. Mail lives in templates/mail/<name>/<locale>.{subject,text,html}.hbs
 * with `en` as the fallback locale; pages in templates/pages/<name>.hbs inside templates/pages/layout.hbs, their text
 * from templates/pages/messages/<language>.json through `{{t "key" name=value}}` (the page's `lang`, English as fallback).
 * HTML parts escape every interpolation; text parts and subjects are plain text and are not HTML-escaped.
 * Every mail and page also gets the organisation name and help-desk contact from the configuration.
 */
@Injectable()
export class TemplatesService {
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();
  /** Like compiled templates, what exists under templates/ is read once per process: a notice render must not stat files. */
  private readonly existing = new Map<string, boolean>();
  private readonly hbs = Handlebars.create();
  private readonly messages: Record<Language, Record<string, string>>;
  private readonly audience: Record<string, string | undefined>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.audience = { organisation: config.audience.organisation, helpdesk: config.audience.helpdesk };
    this.messages = Object.fromEntries(
      LANGUAGES.map((lang) => [lang, JSON.parse(readFileSync(path.join(TEMPLATES_DIR, 'pages', 'messages', `${lang}.json`), 'utf8')) as Record<string, string>]),
    ) as Record<Language, Record<string, string>>;
    this.hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    // Messages are ours and may hold markup; the values put into them are escaped.
    this.hbs.registerHelper('t', (...args: unknown[]) => {
      const options = args.pop() as Handlebars.HelperOptions;
      const key = args.join('.');
      const lang = languageOf((options.data as { root?: { lang?: string } } | undefined)?.root?.lang);
      const text = this.messages[lang][key] ?? this.messages.en[key] ?? key;
      return new Handlebars.SafeString(text.replace(/\{(\w+)\}/g, (_, name: string) => Handlebars.escapeExpression(String(options.hash[name] ?? ''))));
    });
  }

  /** A page message in a language (English when it has none), for a title. */
  message(lang: Language, key: string): string | undefined {
    return this.messages[lang][key] ?? this.messages.en[key];
  }

  private compile(file: string, html: boolean): Handlebars.TemplateDelegate {
    const key = `${html}:${file}`;
    let template = this.cache.get(key);
    if (!template) {
      template = this.hbs.compile(readFileSync(file, 'utf8'), { strict: false, noEscape: !html });
      this.cache.set(key, template);
    }
    return template;
  }

  private exists(file: string): boolean {
    let found = this.existing.get(file);
    if (found === undefined) {
      found = existsSync(file);
      this.existing.set(file, found);
    }
    return found;
  }

  mailExists(name: string): boolean {
    return /^[a-z0-9-]+$/.test(name) && this.exists(path.join(TEMPLATES_DIR, 'mail', name, 'en.text.hbs'));
  }

  /** Renders a mail template for a locale, falling back to the language and then to English. */
  renderMail(name: string, locale: string, vars: Record<string, unknown>): RenderedMail {
    if (!this.mailExists(name)) throw new Error(`no mail template "${name}" in templates/mail`);
    const dir = path.join(TEMPLATES_DIR, 'mail', name);
    const normalised = locale.replace('_', '-');
    const candidates = [normalised, normalised.split('-')[0]!.toLowerCase(), 'en'].filter((l) => /^[a-z]{2,3}(-[A-Z]{2})?$/.test(l));
    const chosen = candidates.find((l) => this.exists(path.join(dir, `${l}.text.hbs`))) ?? 'en';
    const all = { ...this.audience, ...vars };
    const part = (kind: string, html: boolean) => this.compile(path.join(dir, `${chosen}.${kind}.hbs`), html)(all);
    return { subject: part('subject', false).trim().replace(/\s+/g, ' '), text: part('text', false), html: part('html', true) };
  }

  /** Renders templates/pages/<name>.hbs inside the shared layout. */
  renderPage(name: string, vars: Record<string, unknown>): string {
    const all = { ...this.audience, ...vars };
    const body = this.compile(path.join(TEMPLATES_DIR, 'pages', `${name}.hbs`), true)(all);
    return this.compile(path.join(TEMPLATES_DIR, 'pages', 'layout.hbs'), true)({ ...all, body: new Handlebars.SafeString(body) });
  }
}
