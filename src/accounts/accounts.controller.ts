import { Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ReadsBodyStream } from '../common/bodyless-routes.interceptor.js';
import { CurrentOperator, Roles, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { AccountsService } from './accounts.service.js';

@Controller('api/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  /** Body: the raw CSV (text/csv) or NDJSON (application/x-ndjson) file. */
  @Post('import')
  @HttpCode(200)
  @Roles('admin', 'responder')
  @ReadsBodyStream()
  import(@Req() req: Request, @Headers('content-type') contentType: string | undefined, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.accounts.importUpload(req, contentType, operator);
  }
}
