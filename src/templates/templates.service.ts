import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Injectable } from '@nestjs/common';
import Handlebars from 'handlebars';
import { PROJECT_ROOT } from '../config/project-root.js';

export const TEMPLATES_DIR = path.join(PROJECT_ROOT, 'templates');

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Handlebars templates from templates/. Mail lives in templates/mail/<name>/<locale>.{subject,text,html}.hbs
 * with `en` as the fallback locale; pages in templates/pages/<name>.hbs inside templates/pages/layout.hbs.
 * HTML parts escape every interpolation; text parts and subjects are plain text and are not HTML-escaped.
 */
@Injectable()
export class TemplatesService {
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();
  /** Like compiled templates, what exists under templates/ is read once per process: a notice render must not stat files. */
  private readonly existing = new Map<string, boolean>();
  private readonly hbs = Handlebars.create();

  constructor() {
    this.hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
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
    const candidates = [locale, locale.split('-')[0], 'en'].filter((l) => /^[a-z]{2,3}(-[A-Z]{2})?$/.test(l));
    const chosen = candidates.find((l) => this.exists(path.join(dir, `${l}.text.hbs`))) ?? 'en';
    const part = (kind: string, html: boolean) => this.compile(path.join(dir, `${chosen}.${kind}.hbs`), html)(vars);
    return { subject: part('subject', false).trim().replace(/\s+/g, ' '), text: part('text', false), html: part('html', true) };
  }

  /** Renders templates/pages/<name>.hbs inside the shared layout. */
  renderPage(name: string, vars: Record<string, unknown>): string {
    const body = this.compile(path.join(TEMPLATES_DIR, 'pages', `${name}.hbs`), true)(vars);
    return this.compile(path.join(TEMPLATES_DIR, 'pages', 'layout.hbs'), true)({ ...vars, body: new Handlebars.SafeString(body) });
  }
}
