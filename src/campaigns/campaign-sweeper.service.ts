import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { CampaignsService } from './campaigns.service.js';

/** Runs the campaign sweep at start and periodically: the queue may have been lost, the database has not. */
@Injectable()
export class CampaignSweeperService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CampaignSweeperService.name);
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly campaigns: CampaignsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.config.campaigns.sweepIntervalSeconds * 1000);
    this.timer.unref();
  }

  sweep(): Promise<void> {
    this.sweeping ??= this.campaigns
      .sweep()
      .catch((err: Error) => this.logger.warn(`campaign sweep failed: ${err.message}`))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
