import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { type RenderedMail, TemplatesService } from '../../templates/templates.service.js';
import { isOpaqueToken } from '../../common/tokens.js';
import { checkMail, describeProblems, neutralise } from '../link-free.js';

/** The mails a user asks for; every other template under templates/mail is a campaign notice. */
export const USER_MAIL_TEMPLATES = ['reset-link', 'password-changed', 'secret-link'] as const;
export type UserMailTemplate = (typeof USER_MAIL_TEMPLATES)[number];

export interface UserMailAccount {
  username: string;
  displayName: string | null;
  locale: string;
}

/** A mail that failed the link check: never sent, and retrying renders the same mail again. */
export class UnsafeMailError extends Error {}

const OWN_LINK_PATHS: Record<UserMailTemplate, string | null> = { 'reset-link': 'reset', 'password-changed': null, 'secret-link': 'secret' };

/**
 * Renders the mails a user asked for under the same rule as the notices: account values neutralised, and the result
 * checked so that the only link in it is this product's own reset or secret URL, exactly once (none in a confirmation).
 */
@Injectable()
export class UserMailRendererService {
  constructor(
    private readonly templates: TemplatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  render(name: UserMailTemplate, account: UserMailAccount, vars: Record<string, unknown>, link?: string): RenderedMail {
    const path = OWN_LINK_PATHS[name];
    if ((path === null) !== (link === undefined) || (link !== undefined && !this.isOwnLink(link, path!))) {
      throw new UnsafeMailError(`the ${name} mail may only carry this service's own ${path ?? 'no'} link`);
    }
    const mail = this.templates.renderMail(name, account.locale, {
      ...vars,
      username: neutralise(account.username),
      displayName: neutralise(account.displayName || account.username),
      link,
    });
    const problems = checkMail(mail, link);
    if (problems.length) throw new UnsafeMailError(`the ${name} mail failed the link check: ${describeProblems(problems)}`);
    return mail;
  }

  private isOwnLink(link: string, path: string): boolean {
    const prefix = `${this.config.http.publicUrl}/${path}/`;
    return link.startsWith(prefix) && isOpaqueToken(link.slice(prefix.length));
  }
}
