import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentOperator, Roles, operatorActor, type AuthenticatedOperator } from '../../operators/roles.decorator.js';
import { ApplicationsService } from './applications.service.js';
import { CreateApplicationDto, CreatedApplicationDto } from './dto/application.dto.js';

@ApiTags('applications')
@ApiBearerAuth()
@Controller('api/apps')
@Roles('admin')
export class ApplicationsController {
  constructor(private readonly applications: ApplicationsService) {}

  @Post()
  @ApiResponse({ status: 201, type: CreatedApplicationDto, description: 'the key and the secret are shown only in this response' })
  create(@Body() body: CreateApplicationDto, @CurrentOperator() operator: AuthenticatedOperator): Promise<CreatedApplicationDto> {
    return this.applications.create(body, operatorActor(operator));
  }

  @Get()
  list() {
    return this.applications.list();
  }

  @Get(':name')
  show(@Param('name') name: string) {
    return this.applications.show(name);
  }

  @Post(':name/disable')
  @HttpCode(204)
  disable(@Param('name') name: string, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.applications.disable(name, operatorActor(operator));
  }

  @Post(':name/rotate-key')
  @HttpCode(200)
  async rotateKey(@Param('name') name: string, @CurrentOperator() operator: AuthenticatedOperator) {
    return { key: await this.applications.rotateKey(name, operatorActor(operator)) };
  }

  @Post(':name/rotate-secret')
  @HttpCode(200)
  rotateSecret(@Param('name') name: string, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.applications.rotateSecret(name, operatorActor(operator));
  }
}
