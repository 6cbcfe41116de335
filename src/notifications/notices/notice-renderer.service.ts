import { sha256Hex } from '../../common/tokens.js';
import { Inject, Injectable } from '@nestjs/common';
import { type AppConfig, ConfigError } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { TemplatesService } from '../../templates/templates.service.js';
import { type LinkProblem, checkMail, describeProblems, findLinks, neutralise } from '../link-free.js';
import { USER_MAIL_TEMPLATES } from '../user-mail/user-mail-renderer.service.js';
import { REMINDER_TEMPLATE } from './reminder-schedule.js';

/** Mail templates that are not a campaign's first notice: the reminder, and the managers' digest (no account in it). */
const NOT_NOTICE_TEMPLATES: readonly string[] = [...USER_MAIL_TEMPLATES, REMINDER_TEMPLATE, 'manager-digest'];

export interface NoticeCampaign {
  id: number;
  incidentRef: string;
  reason: string;
  phrase: string;
  template: string;
}

export interface NoticeRecipient {
  id: number;
  username: string;
  displayName: string | null;
  locale: string;
}

export interface RenderedNotice {
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  messageId: string;
  /** Empty when the notice is link-free; a notice with problems is never sent. */
  problems: LinkProblem[];
}

/** An ordinary account, for previews and template checks. */
const REALISTIC_SAMPLE: NoticeRecipient = { id: 1, username: 'jdoe', displayName: 'Jane Doe', locale: 'en' };

/** An account shaped like the worst we expect in real data, used to prove a template neutralises what it interpolates. */
export const HOSTILE_SAMPLE: NoticeRecipient = {
  id: 0,
  username: 'bob@evil.example',
  displayName: 'Bob http://evil.example <a href="https://evil.example">www.evil.example</a> bob@evil.example',
  locale: 'en',
};

/**
 * Values that start and end with the characters a link needs (`.`, `:`) and that neutralise() leaves at
 * a value's edges: rendered into the template, they expose any place where template text right next to an
 * interpolation would complete a link.
 */
export const EDGE_SAMPLE: NoticeRecipient = { id: 0, username: '.xy x.', displayName: ':xy x.', locale: 'en' };

/** Template checks kept per campaign text, template and locale; more than this many and the cache starts over. */
const MAX_CHECKED_TEMPLATES = 1000;

/** Renders campaign notices and enforces the link-free rule on every result. */
@Injectable()
export class NoticeRendererService {
  private readonly messageIdDomain: string;
  private readonly messageIdSalt: string;
  private readonly templateProblems = new Map<string, LinkProblem[]>();

  constructor(
    private readonly templates: TemplatesService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.messageIdDomain = /@([A-Za-z0-9.-]+)/.exec(config.mail.from)?.[1] ?? 'localhost';
    this.messageIdSalt = sha256Hex(config.http.publicUrl).slice(0, 10);
    // Every mail shows them, notices included, so they must pass the link rule; better refused at start than per campaign.
    for (const [name, value] of [['ORGANISATION_NAME', config.audience.organisation], ['HELPDESK_CONTACT', config.audience.helpdesk]] as const) {
      const problems = value ? findLinks(name, value) : [];
      if (problems.length) throw new ConfigError(`${name} must not look like a link or an address (every mail shows it; notices carry no link): ${describeProblems(problems)}`);
    }
  }

  /** A notice template: a mail template that is not one of the mails users ask for (a confirmation must never go out as a notice). */
  templateExists(name: string): boolean {
    return !NOT_NOTICE_TEMPLATES.includes(name) && this.templates.mailExists(name);
  }

  /**
   * A notice is the campaign's template and text, which vary per campaign and locale, plus two neutralised account
   * values. The fixed part is checked once per campaign and locale with realistic, hostile and edge-case values;
   * per notice only the values themselves are checked, which costs a fraction of checking the whole mail.
   */
  render(campaign: NoticeCampaign, recipient: NoticeRecipient, reminder?: number): RenderedNotice {
    const values = this.values(recipient);
    const notice = this.renderUnchecked(campaign, recipient, values, reminder);
    notice.problems = [
      ...this.checkedTemplate(campaign, recipient.locale || 'en'),
      ...findLinks('username', values.username),
      ...findLinks('display name', values.displayName),
    ];
    return notice;
  }

  private values(recipient: NoticeRecipient): { username: string; displayName: string } {
    return { username: neutralise(recipient.username), displayName: neutralise(recipient.displayName || recipient.username) };
  }

  private renderUnchecked(campaign: NoticeCampaign, recipient: NoticeRecipient, values = this.values(recipient), reminder?: number): RenderedNotice {
    // Campaign text is checked when the campaign is created; account data is untrusted and always neutralised.
    const mail = this.templates.renderMail(campaign.template, recipient.locale || 'en', {
      incidentRef: campaign.incidentRef,
      reason: campaign.reason,
      phrase: campaign.phrase,
      ...values,
    });
    return {
      ...mail,
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
      // Stable per campaign and account, so a receiver can drop a duplicate resent after a crash.
      messageId: reminder
        ? `<reset-reminder-${campaign.id}-${recipient.id}-${reminder}.${this.messageIdSalt}@${this.messageIdDomain}>`
        : `<reset-notice-${campaign.id}-${recipient.id}.${this.messageIdSalt}@${this.messageIdDomain}>`,
      problems: [],
    };
  }

  private checkedTemplate(campaign: NoticeCampaign, locale: string): LinkProblem[] {
    const key = JSON.stringify([campaign.id, campaign.template, locale, campaign.incidentRef, campaign.reason, campaign.phrase]);
    let problems = this.templateProblems.get(key);
    if (!problems) {
      problems = this.checkTemplate(campaign, { ...REALISTIC_SAMPLE, locale }).problems;
      if (this.templateProblems.size >= MAX_CHECKED_TEMPLATES) this.templateProblems.clear();
      this.templateProblems.set(key, problems);
    }
    return problems;
  }

  /** `resetctl templates preview`: the template with sample campaign text. */
  previewTemplate(name: string, locale = 'en'): { sample: RenderedNotice; problems: LinkProblem[] } {
    if (!this.templateExists(name) && name !== REMINDER_TEMPLATE) throw new Error(`no notice template "${name}" in templates/mail`);
    const campaign = {
      id: 0,
      incidentRef: 'INC-0000',
      reason: 'We have reason to believe that some passwords may have been exposed.',
      phrase: 'amber falcon',
      template: name,
    };
    return this.checkTemplate(campaign, { ...REALISTIC_SAMPLE, locale });
  }

  /** Renders the template for realistic, hostile and edge-case recipients; any problem means the template must not be used. */
  checkTemplate(campaign: NoticeCampaign, sample?: NoticeRecipient): { sample: RenderedNotice; problems: LinkProblem[] } {
    const realistic = sample ?? REALISTIC_SAMPLE;
    const rendered = [realistic, HOSTILE_SAMPLE, EDGE_SAMPLE].map((recipient) => {
      const notice = this.renderUnchecked(campaign, { ...recipient, locale: realistic.locale });
      notice.problems = checkMail(notice);
      return notice;
    });
    const seen = new Set<string>();
    const problems = rendered.flatMap((n) => n.problems).filter((p) => {
      const key = `${p.part}|${p.rule}|${p.text}`;
      return !seen.has(key) && seen.add(key);
    });
    return { sample: rendered[0]!, problems };
  }
}
