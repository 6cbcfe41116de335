import type { ParsedMail } from 'mailparser';

/** What one report says about the notice it names. */
export type BounceOutcome =
  | Bounce
  /** Not a delivery-status report (an auto-reply, a person's answer), or one reporting success: changes nothing. */
  | { kind: 'ignored'; reason: 'auto-reply' | 'not-a-report' | 'no-failure' };

export interface Bounce {
  kind: 'failed' | 'delayed';
  status: string;
  diagnostic: string | null;
  /** The delivery-status part as received: the same report relayed again reads the same. */
  report: string;
}

const REPORT_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const STATUS = /^([245])\.\d{1,3}\.\d{1,3}$/;
const MAX_DIAGNOSTIC = 500;

/**
 * The field groups of a message/delivery-status body (RFC 3464 §2.1): the per-message group first, then one group
 * per recipient, separated by blank lines; folded lines are unfolded and field names lower-cased.
 */
export function deliveryStatusGroups(body: string): Array<Map<string, string>> {
  const unfolded = body.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ');
  return unfolded
    .split(/\n\s*\n/)
    .map((group) => {
      const fields = new Map<string, string>();
      for (const line of group.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      return fields;
    })
    .filter((fields) => fields.size > 0);
}

/**
 * Reads a parsed mail (mailparser with keepDeliveryStatus) as a bounce. Only a multipart/report with a
 * delivery-status part counts, whatever its Auto-Submitted header says: Postfix and Exim mark their own DSNs
 * `auto-replied`, so that header alone tells a vacation reply from a bounce only when no report is attached.
 * With one recipient per notice there is one recipient group; should there be more, a failure outweighs a delay.
 */
export function readBounce(mail: ParsedMail): BounceOutcome {
  const type = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const report = mail.attachments.find((a) => REPORT_TYPES.has(a.contentType.toLowerCase()));
  const isReport = type?.value?.toLowerCase() === 'multipart/report' && /delivery-status$/i.test(type.params?.['report-type'] ?? '');
  if (!isReport || !report) {
    const autoSubmitted = String(mail.headers.get('auto-submitted') ?? '').toLowerCase();
    return { kind: 'ignored', reason: autoSubmitted.startsWith('auto-') ? 'auto-reply' : 'not-a-report' };
  }
  const text = report.content.toString('utf8');
  let worst: Bounce | undefined;
  for (const fields of deliveryStatusGroups(text).slice(1)) {
    // Status may carry a comment after the code (`5.1.1 (bad destination mailbox)`).
    const status = (fields.get('status') ?? '').split(/[\s(]/)[0];
    const action = (fields.get('action') ?? '').toLowerCase();
    const code = STATUS.exec(status);
    if (!code) continue;
    // A 4.x.x with Action: failed is a delay the server gave up on (4.4.7 expired): the notice never arrived.
    const kind = code[1] === '5' || action === 'failed' ? 'failed' : code[1] === '4' ? 'delayed' : undefined;
    if (!kind) continue;
    const diagnostic = fields.get('diagnostic-code')?.slice(0, MAX_DIAGNOSTIC) ?? null;
    if (!worst || (worst.kind === 'delayed' && kind === 'failed')) worst = { kind, status, diagnostic, report: text };
  }
  return worst ?? { kind: 'ignored', reason: 'no-failure' };
}

/** The notice_error of an account whose notice bounced: the reported status and the remote server's diagnostic. */
export function bounceNoticeError(status: string, diagnostic: string | null): string {
  return diagnostic ? `bounce ${status}: ${diagnostic}` : `bounce ${status}`;
}
