import { sha256Hex } from '../../common/tokens.js';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { TemplatesService } from '../../templates/templates.service.js';
import { type LinkProblem, checkNotice, neutralise } from './link-free.js';

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

/** An account shaped like the worst we expect in real data, used to prove a template neutralises what it interpolates. */
export const HOSTILE_SAMPLE: NoticeRecipient = {
  id: 0,
  username: 'bob@evil.example',
  displayName: 'Bob http://evil.example <a href="https://evil.example">www.evil.example</a> bob@evil.example',
  locale: 'en',
};

/** Renders campaign notices and enforces the link-free rule on every result. */
@Injectable()
export class NoticeRendererService {
  private readonly messageIdDomain: string;
  private readonly messageIdSalt: string;

  constructor(
    private readonly templates: TemplatesService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.messageIdDomain = /@([A-Za-z0-9.-]+)/.exec(config.mail.from)?.[1] ?? 'localhost';
    this.messageIdSalt = sha256Hex(config.http.publicUrl).slice(0, 10);
  }

  templateExists(name: string): boolean {
    return this.templates.mailExists(name);
  }

  render(campaign: NoticeCampaign, recipient: NoticeRecipient): RenderedNotice {
    // Campaign text is checked when the campaign is created; account data is untrusted and always neutralised.
    const mail = this.templates.renderMail(campaign.template, recipient.locale || 'en', {
      incidentRef: campaign.incidentRef,
      reason: campaign.reason,
      phrase: campaign.phrase,
      username: neutralise(recipient.username),
      displayName: neutralise(recipient.displayName || recipient.username),
    });
    const headers = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' };
    return {
      ...mail,
      headers,
      // Stable per campaign and account, so a receiver can drop a duplicate resent after a crash.
      messageId: `<reset-notice-${campaign.id}-${recipient.id}.${this.messageIdSalt}@${this.messageIdDomain}>`,
      problems: checkNotice({ ...mail, headers }),
    };
  }

  /** `resetctl templates preview`: the template with sample campaign text. */
  previewTemplate(name: string, locale = 'en'): { sample: RenderedNotice; problems: LinkProblem[] } {
    if (!this.templates.mailExists(name)) throw new Error(`no mail template "${name}" in templates/mail`);
    const campaign = {
      id: 0,
      incidentRef: 'INC-0000',
      reason: 'We have reason to believe that some passwords may have been exposed.',
      phrase: 'amber falcon',
      template: name,
    };
    return this.checkTemplate(campaign, { id: 1, username: 'jdoe', displayName: 'Jane Doe', locale });
  }

  /** Renders the template for a realistic and a hostile recipient; any problem means the template must not be used. */
  checkTemplate(campaign: NoticeCampaign, sample?: NoticeRecipient): { sample: RenderedNotice; problems: LinkProblem[] } {
    const rendered = this.render(campaign, sample ?? { id: 1, username: 'jdoe', displayName: 'Jane Doe', locale: 'en' });
    const hostile = this.render(campaign, HOSTILE_SAMPLE);
    const seen = new Set<string>();
    const problems = [...rendered.problems, ...hostile.problems].filter((p) => {
      const key = `${p.part}|${p.rule}|${p.text}`;
      return !seen.has(key) && seen.add(key);
    });
    return { sample: rendered, problems };
  }
}
