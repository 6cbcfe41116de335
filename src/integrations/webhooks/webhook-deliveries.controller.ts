import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { DatabaseIdPipe } from '../../common/dto/database-int.js';
import { CurrentOperator, Roles, operatorActor, type AuthenticatedOperator } from '../../operators/roles.decorator.js';
import { WebhookDeliveriesService } from './webhook-deliveries.service.js';

@ApiTags('applications')
@ApiBearerAuth()
@Controller('api/apps')
@Roles('admin')
export class WebhookDeliveriesController {
  constructor(private readonly deliveries: WebhookDeliveriesService) {}

  @Get(':name/deliveries')
  @ApiQuery({ name: 'failed', required: false, description: 'true: only deliveries that failed or are being retried' })
  deliveriesOf(@Param('name') name: string, @Query('failed') failed?: string) {
    return this.deliveries.list(name, failed === 'true');
  }

  @Post('deliveries/:id/redeliver')
  @HttpCode(200)
  redeliver(@Param('id', DatabaseIdPipe) id: number, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.deliveries.redeliver(id, operatorActor(operator));
  }
}
