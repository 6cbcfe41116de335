import { Injectable } from '@nestjs/common';
import { MetricsService } from '../../metrics/metrics.service.js';
import { WebhookDeliveriesService } from './webhook-deliveries.service.js';

/**
 * Each connected application's webhook backlog, read from PostgreSQL when /metrics is scraped: shared state, so every
 * process reports the same values (aggregate with max, not sum). Application names are few and chosen by an admin.
 */
@Injectable()
export class WebhookBacklogMetrics {
  constructor(metrics: MetricsService, deliveries: WebhookDeliveriesService) {
    metrics.gauge({
      name: 'reset_webhook_deliveries_pending',
      help: 'Webhook deliveries not delivered yet (including those being retried), per application',
      labelNames: ['application'] as const,
      async collect() {
        const stats = await deliveries.stats();
        this.reset();
        for (const s of stats) this.set({ application: s.application }, s.pending);
      },
    });
    metrics.gauge({
      name: 'reset_webhook_oldest_pending_seconds',
      help: "Age of an application's oldest undelivered webhook (0 when none is pending)",
      labelNames: ['application'] as const,
      async collect() {
        const stats = await deliveries.stats();
        this.reset();
        for (const s of stats) this.set({ application: s.application }, s.oldestPendingAt ? (Date.now() - s.oldestPendingAt.getTime()) / 1000 : 0);
      },
    });
  }
}
