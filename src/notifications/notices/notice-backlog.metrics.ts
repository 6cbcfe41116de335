import { Injectable } from '@nestjs/common';
import { MetricsService } from '../../metrics/metrics.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { NoticeQueueService } from './notice-queue.service.js';

interface ActiveCampaign {
  id: number;
  status: 'running' | 'paused';
  flagged: number;
}

/**
 * The notice backlog per running or paused campaign, read when /metrics is scraped: shared state, so every process
 * reports the same values (aggregate with max, not sum).
 */
@Injectable()
export class NoticeBacklogMetrics {
  constructor(metrics: MetricsService, prisma: PrismaService, queues: NoticeQueueService) {
    const active = () =>
      prisma.$queryRaw<ActiveCampaign[]>`
        SELECT c.id, c.status::text AS status, coalesce(s.count, 0)::int AS flagged
        FROM campaigns c LEFT JOIN campaign_state_counts s ON s.campaign_id = c.id AND s.state = 'flagged'
        WHERE c.status IN ('running', 'paused')`;
    metrics.gauge({
      name: 'reset_notices_queued',
      help: 'Accounts of a running or paused campaign still waiting for their notice (flagged, in PostgreSQL)',
      labelNames: ['campaign_id', 'status'] as const,
      async collect() {
        const campaigns = await active();
        this.reset();
        for (const c of campaigns) this.set({ campaign_id: c.id, status: c.status }, c.flagged);
      },
    });
    metrics.gauge({
      name: 'reset_notice_jobs_waiting',
      help: "Notice jobs in a running or paused campaign's Redis queue (waiting, delayed or being sent)",
      labelNames: ['campaign_id', 'status'] as const,
      async collect() {
        const campaigns = await active();
        const backlogs = await Promise.all(campaigns.map((c) => queues.backlog(c.id)));
        this.reset();
        campaigns.forEach((c, i) => this.set({ campaign_id: c.id, status: c.status }, backlogs[i]));
      },
    });
  }
}
