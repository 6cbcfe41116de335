import { Controller, Headers, HttpCode, Post, Query, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { ReadsBodyStream } from '../common/bodyless-routes.interceptor.js';
import { CurrentOperator, Roles, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { AccountsService } from './accounts.service.js';
import { CredentialUpdatesGuard } from './credential-updates.guard.js';
import { ImportQueryDto } from './dto/import-query.dto.js';

/** Its body is the file, read as a stream (so no body parser may take it first). */
export const ACCOUNT_IMPORT_PATH = '/api/accounts/import';

@Controller('api/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  /** Body: the raw file: CSV (text/csv), NDJSON (application/x-ndjson), or with `from` an identity provider's export. */
  @Post('import')
  @HttpCode(200)
  @Roles('admin', 'responder')
  @UseGuards(CredentialUpdatesGuard)
  @ReadsBodyStream()
  import(
    @Req() req: Request,
    @Headers('content-type') contentType: string | undefined,
    @Query() query: ImportQueryDto,
    @CurrentOperator() operator: AuthenticatedOperator,
  ) {
    return this.accounts.importUpload(req, contentType, query, operator);
  }
}
