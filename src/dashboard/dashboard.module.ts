import { Module } from '@nestjs/common';
import { DashboardViewService } from './dashboard-view.service.js';
import { DashboardController } from './dashboard.controller.js';
import { DashboardService } from './dashboard.service.js';
import { OperatorSignInController } from './operator-sign-in.controller.js';
import { QueueBoardService } from './queue-board.service.js';

/** The managers' completion dashboard, the queue board and operator sign-in. */
@Module({
  controllers: [DashboardController, OperatorSignInController],
  providers: [DashboardService, DashboardViewService, QueueBoardService],
  exports: [DashboardService],
})
export class DashboardModule {}
