import { Injectable } from '@nestjs/common';
import { hasGaps } from '../campaigns/campaign-gaps.js';
import type { AuthenticatedOperator } from '../operators/roles.decorator.js';
import { roleAllowed } from '../operators/roles.decorator.js';
import { domainRatesFrom } from '../notifications/notices/domain-rates.js';
import { NoticePacerService } from '../notifications/notices/notice-pacer.service.js';
import { TemplatesService } from '../templates/templates.service.js';
import { CoalescedReads } from '../common/coalesced-reads.js';
import { WebhookDeliveriesService } from '../integrations/webhooks/webhook-deliveries.service.js';
import { completionChartSvg } from './completion-chart.js';
import { type CampaignAggregates, type DashboardCampaign, DashboardService, PENDING_PAGE, type RevisitAlert } from './dashboard.service.js';
import { type Funnel, formatCount, formatDuration } from './funnel.js';

const STATUS_LABELS: Record<string, string> = {
  draft: 'Draft',
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

const STATE_LABELS: Record<string, string> = {
  flagged: 'Flagged',
  notice_sent: 'Notice sent',
  notice_failed: 'Notice failed',
  pre_reset: 'On pre-reset page',
  link_sent: 'Link sent',
};

function when(at: Date | null | undefined): string {
  return at ? `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/** The numbers the page shows and the live refresh replaces, already formatted. */
export interface LiveNumbers {
  status: string;
  statusLabel: string;
  live: boolean;
  updatedAt: string;
  affected: string;
  completed: string;
  pending: string;
  cancelled: string;
  completionPercent: string;
  median: string;
  p90: string;
  funnel: Array<{ key: string; label: string; count: string; percent: string; width: number }>;
  chartSvg: string;
  reminders: Array<{ number: number; at: string; recipients: string; sent: string; failed: string; gained: string; gainedPercent: string }>;
}

/**
 * Builds the dashboard's pages and live JSON from DashboardService data; templates stay free of logic.
 * A campaign's page data and live numbers are read and formatted once for all viewers asking at the same time
 * (CoalescedReads: never from a query older than the request); only the viewer's own part is added per request.
 */
@Injectable()
export class DashboardViewService {
  private readonly pages = new CoalescedReads<Record<string, unknown>>();
  private readonly lives = new CoalescedReads<LiveNumbers>();

  constructor(
    private readonly dashboard: DashboardService,
    private readonly templates: TemplatesService,
    private readonly deliveries: WebhookDeliveriesService,
    private readonly pacer: NoticePacerService,
  ) {}

  /** One line for the campaign page, e.g. "50/s · gmail.com 10/s (slowed down until 09:40 UTC) · any other domain 50/s · all campaigns at most 200/s". */
  private async sendingRates(campaign: DashboardCampaign): Promise<string> {
    const rates = await this.pacer.effectiveRates(campaign.noticeRate, domainRatesFrom(campaign.domainRates));
    const domains = rates.domains.map((d) => {
      const name = d.domain === '*' ? 'any other domain' : d.domain;
      return `${name} ${d.rate}/s${d.slowedUntil ? ` (slowed down until ${when(d.slowedUntil)})` : ''}`;
    });
    return [`${rates.campaign}/s`, ...domains, ...(rates.global ? [`all campaigns at most ${rates.global}/s`] : [])].join(' · ');
  }

  private chrome(operator: AuthenticatedOperator, alerts: RevisitAlert[]) {
    return {
      operator: { username: operator.username, role: operator.role },
      csrfToken: operator.session?.csrfToken,
      responderTools: roleAllowed(operator.role, ['responder']),
      alerts: alerts.map((a) => {
        const d = (a.details ?? {}) as Record<string, unknown>;
        return { at: when(a.at), secretId: d.secretId, target: d.username ?? d.externalRef ?? '—', createdBy: d.createdBy, details: JSON.stringify(a.details) };
      }),
    };
  }

  async indexPage(operator: AuthenticatedOperator): Promise<string> {
    const [campaigns, alerts, writeBack] = await Promise.all([this.dashboard.listCampaigns(), this.dashboard.revisitAlerts(operator), this.deliveries.stats()]);
    return this.templates.renderPage('dashboard', {
      title: 'Campaigns · Reset dashboard',
      ...this.chrome(operator, alerts),
      applications: writeBack.map((a) => ({
        name: a.application,
        delivered: formatCount(a.delivered),
        pending: formatCount(a.pending),
        failing: formatCount(a.failing),
        notWrittenBack: formatCount(a.notWrittenBack),
        oldestPendingAt: when(a.oldestPendingAt),
        alert: a.failing > 0,
      })),
      campaigns: campaigns.map(({ campaign, funnel }) => ({
        id: campaign.id,
        name: campaign.name,
        incidentRef: campaign.incidentRef,
        status: campaign.status,
        statusLabel: STATUS_LABELS[campaign.status],
        launchedAt: when(campaign.launchedAt),
        affected: formatCount(funnel.affected),
        completed: formatCount(funnel.completed),
        completionPercent: `${funnel.completionPercent.toFixed(1)}%`,
        width: funnel.completionPercent,
      })),
    });
  }

  private liveNumbers(campaign: DashboardCampaign, funnel: Funnel, aggregates: CampaignAggregates): LiveNumbers {
    const percentOf = (n: number) => `${(funnel.affected ? (n / funnel.affected) * 100 : 0).toFixed(1)}%`;
    // The funnel marks when each reminder went out and how many it reached, after the steps every account goes through.
    const reminderSteps = aggregates.reminders.map((r) => ({
      key: `reminder_${r.number}`,
      label: `Reminder ${r.number} sent ${when(r.startedAt)}`,
      count: formatCount(r.sent),
      percent: percentOf(r.sent),
      width: funnel.affected ? (r.sent / funnel.affected) * 100 : 0,
    }));
    return {
      status: campaign.status,
      statusLabel: STATUS_LABELS[campaign.status],
      live: campaign.status === 'running' || campaign.status === 'paused' || campaign.status === 'draft',
      updatedAt: new Date().toISOString().slice(11, 19) + ' UTC',
      affected: formatCount(funnel.affected),
      completed: formatCount(funnel.completed),
      pending: formatCount(funnel.pending),
      cancelled: formatCount(funnel.cancelled),
      completionPercent: `${funnel.completionPercent.toFixed(1)}%`,
      median: formatDuration(aggregates.medianSeconds),
      p90: formatDuration(aggregates.p90Seconds),
      funnel: [
        ...funnel.steps.map((s) => ({ key: s.key, label: s.label, count: formatCount(s.count), percent: `${s.percent.toFixed(1)}%`, width: s.percent })),
        ...reminderSteps,
      ],
      chartSvg: completionChartSvg(
        aggregates.curve,
        funnel.affected,
        aggregates.start,
        aggregates.end,
        aggregates.reminders.map((r) => ({ at: r.startedAt, label: `R${r.number}` })),
      ),
      reminders: aggregates.reminders.map((r) => ({
        number: r.number,
        at: when(r.startedAt),
        recipients: formatCount(r.recipients),
        sent: formatCount(r.sent),
        failed: formatCount(r.failed),
        gained: formatCount(r.completedWithin48h),
        gainedPercent: percentOf(r.completedWithin48h),
      })),
    };
  }

  live(id: number): Promise<LiveNumbers> {
    return this.lives.read(String(id), async () => {
      const { campaign, funnel } = await this.dashboard.campaign(id);
      return this.liveNumbers(campaign, funnel, await this.dashboard.campaignAggregates(campaign));
    });
  }

  async campaignPage(operator: AuthenticatedOperator, id: number, after: number): Promise<string> {
    const [data, alerts] = await Promise.all([
      this.pages.read(`${id}:${after}`, () => this.campaignPageData(id, after)),
      this.dashboard.revisitAlerts(operator),
    ]);
    return this.templates.renderPage('dashboard-campaign', { ...data, ...this.chrome(operator, alerts) });
  }

  /** Everything on a campaign page that does not depend on who is looking. */
  private async campaignPageData(id: number, after: number): Promise<Record<string, unknown>> {
    const { campaign, funnel } = await this.dashboard.campaign(id);
    const [aggregates, pending, failures, gaps, sendingRates] = await Promise.all([
      this.dashboard.campaignAggregates(campaign),
      this.dashboard.pending(id, after, PENDING_PAGE + 1),
      this.dashboard.noticeFailures(id),
      this.dashboard.gaps(campaign),
      this.sendingRates(campaign),
    ]);
    const numbers = this.liveNumbers(campaign, funnel, aggregates);
    const page = pending.slice(0, PENDING_PAGE);
    return {
      title: `${campaign.name} · Reset dashboard`,
      campaign: {
        id: campaign.id,
        name: campaign.name,
        incidentRef: campaign.incidentRef,
        reason: campaign.reason,
        launchedAt: when(campaign.launchedAt),
        createdAt: when(campaign.createdAt),
        noticeRate: campaign.noticeRate,
        sendingRates,
      },
      n: numbers,
      gaps: {
        any: hasGaps(gaps),
        unknownUsernames: formatCount(gaps.unknownUsernames),
        hasUnknownUsernames: gaps.unknownUsernames > 0,
        cannotReachPreReset: formatCount(gaps.cannotReachPreReset),
        disabled: formatCount(gaps.disabled),
        withoutVerifiedEmail: formatCount(gaps.withoutVerifiedEmail),
      },
      chartSvg: numbers.chartSvg,
      reminders: numbers.reminders,
      orgUnits: aggregates.orgUnits.map((u) => ({
        ...u,
        total: formatCount(u.total),
        completed: formatCount(u.completed),
        percentText: `${u.percent.toFixed(1)}%`,
      })),
      moreOrgUnits: aggregates.orgUnitCount > aggregates.orgUnits.length ? formatCount(aggregates.orgUnitCount - aggregates.orgUnits.length) : null,
      failures: failures.map((f) => ({ ...f, noticeFailedAt: when(f.noticeFailedAt) })),
      failuresTotal: formatCount(Number(funnel.steps.find((s) => s.key === 'notice_failed')?.count ?? 0)),
      moreFailures: failures.length < (funnel.steps.find((s) => s.key === 'notice_failed')?.count ?? 0),
      pending: page.map((p) => ({ ...p, stateLabel: STATE_LABELS[p.state] ?? p.state, flaggedAt: when(p.flaggedAt) })),
      pendingFirstPage: after === 0,
      pendingNext: pending.length > PENDING_PAGE ? page[page.length - 1].accountId : null,
    };
  }
}
