import { Controller, Get, Header, Param, ParseIntPipe, Query, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { writeStream } from '../common/write-stream.js';
import { CurrentOperator, Roles, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { DashboardPageFilter } from '../operators/dashboard-page.filter.js';
import { DashboardViewService } from './dashboard-view.service.js';
import { DashboardService } from './dashboard.service.js';
import { PendingPageQueryDto } from './dto/dashboard.dto.js';

/** The managers' completion dashboard: server-rendered pages, a live JSON feed and the pending-accounts export. */
@ApiExcludeController()
@Controller('dashboard')
@Roles('admin', 'responder', 'manager')
@UseFilters(DashboardPageFilter)
export class DashboardController {
  constructor(
    private readonly view: DashboardViewService,
    private readonly dashboard: DashboardService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  index(@CurrentOperator() operator: AuthenticatedOperator) {
    return this.view.indexPage(operator);
  }

  @Get('campaigns/:id')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  campaign(@Param('id', ParseIntPipe) id: number, @Query() query: PendingPageQueryDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.view.campaignPage(operator, id, query.after ?? 0);
  }

  @Get('campaigns/:id/live.json')
  @Header('Cache-Control', 'no-store')
  live(@Param('id', ParseIntPipe) id: number) {
    return this.view.live(id);
  }

  @Get('campaigns/:id/pending.csv')
  async pendingCsv(@Param('id', ParseIntPipe) id: number, @Res() res: Response) {
    await this.dashboard.campaign(id);
    res.type('text/csv; charset=utf-8').attachment(`campaign-${id}-pending.csv`).setHeader('Cache-Control', 'no-store');
    await this.dashboard.exportPendingCsv(id, writeStream(res));
    res.end();
  }
}
