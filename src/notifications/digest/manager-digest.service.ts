import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { Prisma } from '../../generated/prisma/client.js';
import { MailTransportService } from '../../mail/mail-transport.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { isOpenState } from '../../progress/progress-states.js';
import { TemplatesService } from '../../templates/templates.service.js';
import { checkMail, describeProblems, neutralise } from '../link-free.js';

/** A mail, not a report: past this many org units the rest are one line. */
const DIGEST_UNITS = 100;

const COUNT_FORMAT = new Intl.NumberFormat('en-US');

export interface DigestUnit {
  orgUnit: string;
  open: number;
  total: number;
}

/**
 * The managers' daily digest of a campaign: how many accounts are still to reset, per org unit. Numbers only (no
 * username, address or display name is read), link-free like every notice. Due once per CAMPAIGN_DIGEST_INTERVAL
 * after launch; the period is claimed in the database before any mail goes, so two workers or a retried job send it
 * once (a relay that refuses it loses that day's digest; the next one comes a period later).
 */
@Injectable()
export class ManagerDigestService {
  private readonly logger = new Logger(ManagerDigestService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly templates: TemplatesService,
    private readonly mail: MailTransportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Whether the campaign's digest is due at `now` (the sweep's check; `sendDue` claims it). */
  isDue(campaign: { status: string; digestTo: string[]; digestSentAt: Date | null; launchedAt: Date | null }, now = new Date()): boolean {
    const since = campaign.digestSentAt ?? campaign.launchedAt;
    return (campaign.status === 'running' || campaign.status === 'paused') && campaign.digestTo.length > 0 && !!since
      && now.getTime() - since.getTime() >= this.config.campaigns.digestIntervalSeconds * 1000;
  }

  /** Sends the digest if its period has come; returns how many managers it went to (0 when not due or already sent). */
  async sendDue(campaignId: number): Promise<number> {
    const [claimed] = await this.prisma.$queryRaw<{ name: string; incident_ref: string; digest_to: string[] }[]>(Prisma.sql`
      UPDATE campaigns SET digest_sent_at = now()
      WHERE id = ${campaignId} AND status IN ('running', 'paused') AND cardinality(digest_to) > 0
        AND coalesce(digest_sent_at, launched_at) <= now() - make_interval(secs => ${this.config.campaigns.digestIntervalSeconds})
      RETURNING name, incident_ref, digest_to`);
    if (!claimed) return 0;
    const mail = this.render(claimed.name, claimed.incident_ref, await this.units(campaignId));
    const problems = checkMail(mail);
    if (problems.length) {
      this.logger.error(`campaign ${campaignId}: digest not sent, link check failed: ${describeProblems(problems)}`);
      return 0;
    }
    let sent = 0;
    // One mail per manager, so no manager sees who else gets it.
    for (const to of claimed.digest_to) {
      try {
        await this.mail.send({ to, ...mail });
        sent++;
      } catch (err) {
        this.logger.warn(`campaign ${campaignId}: digest to one manager refused: ${(err as Error).message.slice(0, 200)}`);
      }
    }
    return sent;
  }

  /** Open and total accounts per org unit, most still to reset first. */
  async units(campaignId: number): Promise<DigestUnit[]> {
    const rows = await this.prisma.$queryRaw<{ org_unit: string | null; open: number; total: number }[]>(Prisma.sql`
      SELECT a.org_unit, (count(*) FILTER (WHERE ${isOpenState('ca.state')}))::int AS open, count(*)::int AS total
      FROM campaign_accounts ca JOIN accounts a ON a.id = ca.account_id
      WHERE ca.campaign_id = ${campaignId}
      GROUP BY a.org_unit ORDER BY 2 DESC, a.org_unit`);
    return rows.map((r) => ({ orgUnit: r.org_unit ?? '(none)', open: r.open, total: r.total }));
  }

  render(name: string, incidentRef: string, units: DigestUnit[]) {
    const open = units.reduce((n, u) => n + u.open, 0);
    const total = units.reduce((n, u) => n + u.total, 0);
    const done = total - open;
    return this.templates.renderMail('manager-digest', 'en', {
      campaignName: neutralise(name),
      incidentRef,
      asOf: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      open: COUNT_FORMAT.format(open),
      total: COUNT_FORMAT.format(total),
      completed: COUNT_FORMAT.format(done),
      percent: `${total ? ((done / total) * 100).toFixed(1) : '0.0'}%`,
      // An org unit is account data: defanged like a display name, so `sales.example` cannot become a link.
      units: units.slice(0, DIGEST_UNITS).map((u) => ({ orgUnit: neutralise(u.orgUnit), open: COUNT_FORMAT.format(u.open), total: COUNT_FORMAT.format(u.total) })),
      moreUnits: units.length > DIGEST_UNITS ? COUNT_FORMAT.format(units.length - DIGEST_UNITS) : undefined,
    });
  }
}
