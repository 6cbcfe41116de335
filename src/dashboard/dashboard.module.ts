import { Module } from '@nestjs/common';
import { IntegrationsModule } from '../integrations/integrations.module.js';
import { DashboardViewService } from './dashboard-view.service.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardService } from './dashboard.service.js';
import { OperatorSignInController } from './operator-sign-in.controller.js';

/** The managers' completion dashboard and operator sign-in. */
@Module({
  imports: [IntegrationsModule],
  controllers: [DashboardController, OperatorSignInController],
  providers: [DashboardService, DashboardViewService],
  exports: [DashboardService],
})
export class DashboardModule {}
