import { Module } from '@nestjs/common';
import { NoticesModule } from '../notifications/notices/notices.module.js';
import { TemplatesModule } from '../templates/templates.module.js';
import { IntegrationsModule } from '../integrations/integrations.module.js';
import { DashboardViewService } from './dashboard-view.service.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardService } from './dashboard.service.js';

/** The managers' completion dashboard. */
@Module({
  imports: [TemplatesModule, IntegrationsModule, NoticesModule],
  controllers: [DashboardController],
  providers: [DashboardService, DashboardViewService],
  exports: [DashboardService],
})
export class DashboardModule {}
