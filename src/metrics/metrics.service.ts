import { Injectable } from '@nestjs/common';
import { Counter, Gauge, type GaugeConfiguration, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a notice attempt ended: the SMTP reply's class, or why it was not sent at all. */
export type NoticeReplyClass = '2xx' | '4xx' | '5xx' | 'connection' | 'smtputf8' | 'link_check' | 'no_verified_email' | 'account_disabled';

/** sent: accepted (2xx); failed: recorded as notice_failed; deferred: refused for now, the job retries. */
export type NoticeResult = 'sent' | 'failed' | 'deferred';

export type SignInOutcome = 'normal' | 'pre_reset' | 'password_change' | 'failed' | 'limited' | 'unavailable';

/** How one webhook attempt ended: delivered, refused or unanswered with retries left, or given up. */
export type WebhookResult = 'delivered' | 'retrying' | 'failed';

/**
 * The product's Prometheus metrics, one registry per application (tests run several in one process). Labels are
 * bounded: a campaign id, a fixed outcome or class, never a username or an address. Counters are this process's
 * own; the gauges other modules register with `gauge()` read shared state (PostgreSQL, Redis) when scraped.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly notices = new Counter({
    name: 'reset_notices_total',
    help: 'Campaign notice attempts by campaign, result (sent, failed, deferred) and reply class',
    labelNames: ['campaign_id', 'result', 'reply_class'] as const,
    registers: [this.registry],
  });

  readonly noticeSendSeconds = new Histogram({
    name: 'reset_notice_send_duration_seconds',
    help: 'Time of one notice SMTP conversation, from the send to the server accepting or refusing it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly pacerWaitSeconds = new Histogram({
    name: 'reset_notice_pacer_wait_seconds',
    help: "Time a notice waited for its campaign's next send slot (the throttle)",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly resetLinksMailed = new Counter({
    name: 'reset_links_mailed_total',
    help: 'One-time reset links mailed to users who asked for one',
    registers: [this.registry],
  });

  readonly signIns = new Counter({
    name: 'reset_sign_ins_total',
    help: 'User sign-ins by outcome (normal, pre_reset, password_change, failed, limited, unavailable)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly resetsCompleted = new Counter({
    name: 'reset_resets_completed_total',
    help: 'Flagged accounts whose new password completed them in a campaign, by campaign',
    labelNames: ['campaign_id'] as const,
    registers: [this.registry],
  });

  readonly reminders = new Counter({
    name: 'reset_reminders_total',
    help: 'Reminder notices by campaign and result (sent: accepted; failed: refused for good or failed the link check)',
    labelNames: ['campaign_id', 'result'] as const,
    registers: [this.registry],
  });

  readonly bounces = new Counter({
    name: 'reset_bounces_total',
    help: 'Bounce reports received, by kind (failed, delayed, ignored: not a delivery report, forged: bad signature)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly gateDecisions = new Counter({
    name: 'reset_gate_decisions_total',
    help: "Connected applications' gate questions by decision (continue, pre_reset, password_change)",
    labelNames: ['decision'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'reset_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, retrying, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly auditAppends = new Counter({
    name: 'reset_audit_appends_total',
    help: 'Entries written to the hash-chained audit log',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge computed at scrape time by `collect` (which sets its values). */
  gauge<L extends string>(configuration: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return new Gauge({ ...configuration, registers: [this.registry] });
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
