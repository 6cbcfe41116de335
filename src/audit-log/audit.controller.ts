import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { writeStream } from '../common/write-stream.js';
import { Roles } from '../operators/roles.decorator.js';
import { AuditLogReaderService } from './audit-log-reader.service.js';
import { AuditPageDto, AuditQueryDto } from './dto/audit-query.dto.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/audit')
export class AuditController {
  constructor(private readonly reader: AuditLogReaderService) {}

  /** Newest first, one page at a time; with `Accept: text/csv` the whole (filtered) log as CSV. */
  @Get()
  @Roles('admin', 'responder')
  @ApiProduces('application/json', 'text/csv')
  @ApiResponse({ status: 200, type: AuditPageDto })
  async list(@Query() query: AuditQueryDto, @Req() req: Request, @Res() res: Response) {
    if (req.accepts(['json', 'csv']) !== 'csv') return res.json(await this.reader.page(query));
    res.type('text/csv; charset=utf-8').attachment('audit-log.csv');
    await this.reader.exportCsv(query, writeStream(res));
    res.end();
  }
}
