import { Body, Controller, Get, Headers, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags } from '@nestjs/swagger';
import { DatabaseIdPipe } from '../common/dto/database-int.js';
import { CurrentOperator, Roles, operatorActor, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { CampaignsService } from './campaigns.service.js';
import { CancelCampaignDto } from './dto/cancel-campaign.dto.js';
import { CreateCampaignDto } from './dto/create-campaign.dto.js';
import { LaunchCampaignDto } from './dto/launch-campaign.dto.js';
import { ListCampaignAccountsQuery } from './dto/list-campaign-accounts.query.js';
import { UpdateCampaignDto } from './dto/update-campaign.dto.js';

@ApiTags('campaigns')
@ApiBearerAuth()
@Controller('api/campaigns')
export class CampaignsController {
  constructor(private readonly campaigns: CampaignsService) {}

  @Post()
  @Roles('admin', 'responder')
  create(@Body() body: CreateCampaignDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.create(body, operatorActor(operator));
  }

  @Get()
  @Roles('admin', 'responder', 'manager')
  list() {
    return this.campaigns.list();
  }

  @Get(':id')
  @Roles('admin', 'responder', 'manager')
  get(@Param('id', DatabaseIdPipe) id: number) {
    return this.campaigns.get(id);
  }

  @Patch(':id')
  @Roles('admin', 'responder')
  update(@Param('id', DatabaseIdPipe) id: number, @Body() body: UpdateCampaignDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.update(id, body, operatorActor(operator));
  }

  @Get(':id/preview')
  @Roles('admin', 'responder', 'manager')
  preview(@Param('id', DatabaseIdPipe) id: number) {
    return this.campaigns.preview(id);
  }

  @Get(':id/unknown-usernames')
  @Roles('admin', 'responder', 'manager')
  @ApiProduces('text/csv')
  unknownUsernames(@Param('id', DatabaseIdPipe) id: number) {
    return this.campaigns.unknownUsernamesCsv(id);
  }

  @Post(':id/launch')
  @HttpCode(200)
  @Roles('admin', 'responder')
  launch(@Param('id', DatabaseIdPipe) id: number, @Body() body: LaunchCampaignDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.launch(id, operatorActor(operator), { acceptGaps: body.acceptGaps, canary: body.canary });
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Roles('admin', 'responder')
  pause(@Param('id', DatabaseIdPipe) id: number, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.pause(id, operatorActor(operator));
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Roles('admin', 'responder')
  resume(@Param('id', DatabaseIdPipe) id: number, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.resume(id, operatorActor(operator));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('admin', 'responder')
  cancel(@Param('id', DatabaseIdPipe) id: number, @Body() body: CancelCampaignDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.cancel(id, body.clearMustReset ?? false, operatorActor(operator));
  }

  @Get(':id/progress')
  @Roles('admin', 'responder', 'manager')
  progress(@Param('id', DatabaseIdPipe) id: number) {
    return this.campaigns.progressOf(id);
  }

  @Get(':id/accounts')
  @Roles('admin', 'responder', 'manager')
  @ApiProduces('application/json', 'text/csv')
  accounts(@Param('id', DatabaseIdPipe) id: number, @Query() query: ListCampaignAccountsQuery, @Headers('accept') accept?: string) {
    return accept?.includes('text/csv') ? this.campaigns.accountsCsv(id, query) : this.campaigns.accountsPage(id, query);
  }

  @Get(':id/notices/failed')
  @Roles('admin', 'responder', 'manager')
  failedNotices(@Param('id', DatabaseIdPipe) id: number, @Query() query: ListCampaignAccountsQuery) {
    return this.campaigns.accountsPage(id, { ...query, state: 'notice_failed' });
  }

  @Post(':id/notices/retry')
  @HttpCode(200)
  @Roles('admin', 'responder')
  retryNotices(@Param('id', DatabaseIdPipe) id: number, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.campaigns.retryFailed(id, operatorActor(operator));
  }
}
