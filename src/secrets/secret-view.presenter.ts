import { minutesText } from '../rate-limit/rate-limiter.service.js';
import type { SecretView } from './secret-reveal.service.js';

export interface SecretPage {
  status: number;
  template: 'secret' | 'secret-revealed' | 'secret-status';
  vars: Record<string, unknown>;
  json: Record<string, unknown>;
  retryAfterSeconds?: number;
}

const UNKNOWN = 'This link is not valid. It may have expired or been mistyped. Ask the security team for a new one.';

/** Maps a secret's state to an HTTP status, a page and its JSON twin. */
export function presentSecretView(view: SecretView, token: string): SecretPage {
  const action = `/secret/${token}/reveal`;
  switch (view.kind) {
    case 'unknown':
      return { status: 404, template: 'secret-status', vars: { title: 'Link not valid', message: UNKNOWN }, json: { status: 'unknown', message: UNKNOWN } };
    case 'forbidden': {
      const message = 'This form has expired or did not come from this site. Open the link again and press the button.';
      return { status: 403, template: 'secret-status', vars: { title: 'Not allowed', message }, json: { status: 'forbidden', message } };
    }
    case 'ready':
    case 'wrong-code': {
      const codeRequired = view.kind === 'wrong-code' || view.codeRequired;
      const attemptsLeft = view.kind === 'wrong-code' ? view.attemptsLeft : undefined;
      return {
        status: view.kind === 'ready' ? 200 : 403,
        template: 'secret',
        vars: { title: 'Your temporary password', subject: view.subject, action, csrf: view.csrf, codeRequired, attemptsLeft, expiresAt: view.expiresAt.toISOString() },
        json: { status: view.kind, subject: view.subject, codeRequired, attemptsLeft, expiresAt: view.expiresAt, csrf: view.csrf, revealUrl: action },
      };
    }
    case 'revealed':
      return {
        status: 200,
        template: 'secret-revealed',
        vars: { title: 'Your temporary password', subject: view.subject, value: view.value },
        json: { status: 'revealed', subject: view.subject, password: view.value },
      };
    case 'viewed': {
      const message =
        `This temporary password was already viewed on ${view.viewedAt.toISOString()} and cannot be shown again. ` +
        'If that was not you, contact the security team now: someone else may have it.';
      return { status: 410, template: 'secret-status', vars: { title: 'Already viewed', message, alarm: true }, json: { status: 'viewed', viewedAt: view.viewedAt, message } };
    }
    case 'revisits-throttled': {
      const message =
        `This link was opened too many times. Try again in ${minutesText(view.retryAfterSeconds)}. ` +
        'Its temporary password was already viewed; if that was not you, contact the security team now.';
      return {
        status: 429,
        template: 'secret-status',
        vars: { title: 'Too many visits', message, alarm: true },
        json: { status: 'throttled', message },
        retryAfterSeconds: view.retryAfterSeconds,
      };
    }
    case 'destroyed': {
      const message = 'This temporary password was destroyed (too many wrong codes, or a newer one was issued). Contact the security team.';
      return { status: 410, template: 'secret-status', vars: { title: 'No longer available', message, alarm: true }, json: { status: 'destroyed', message } };
    }
  }
}
