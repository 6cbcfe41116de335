import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ApiTokenDto,
  CreateApiTokenDto,
  CreateOperatorDto,
  CreatedApiTokenDto,
  CreatedOperatorDto,
  CurrentOperatorDto,
  OperatorDto,
} from './dto/operator.dto.js';
import { DatabaseIdPipe } from '../common/dto/database-int.js';
import { OperatorsService } from './operators.service.js';
import { CurrentOperator, Roles, operatorActor, type AuthenticatedOperator } from './roles.decorator.js';

@ApiTags('operators')
@ApiBearerAuth()
@Controller('api/operators')
export class OperatorsController {
  constructor(private readonly operators: OperatorsService) {}

  @Get('me')
  @Roles('admin', 'responder', 'manager')
  @ApiResponse({ status: 200, type: CurrentOperatorDto })
  me(@CurrentOperator() operator: AuthenticatedOperator): CurrentOperatorDto {
    return { username: operator.username, role: operator.role };
  }

  @Get()
  @Roles('admin')
  @ApiResponse({ status: 200, type: [OperatorDto] })
  list() {
    return this.operators.list();
  }

  @Post()
  @Roles('admin')
  @ApiResponse({ status: 201, type: CreatedOperatorDto, description: 'the password and token are shown only in this response' })
  async create(@Body() body: CreateOperatorDto, @CurrentOperator() operator: AuthenticatedOperator): Promise<CreatedOperatorDto> {
    const created = await this.operators.create(body.username, body.role, operatorActor(operator));
    return { ...created, username: body.username.toLowerCase(), role: body.role };
  }

  @Post(':username/disable')
  @HttpCode(204)
  @Roles('admin')
  disable(@Param('username') username: string, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.operators.disable(username, operatorActor(operator));
  }

  @Get('tokens')
  @Roles('admin')
  @ApiQuery({ name: 'username', required: false })
  @ApiResponse({ status: 200, type: [ApiTokenDto] })
  tokens(@Query('username') username?: string) {
    return this.operators.listTokens(username);
  }

  @Post('tokens')
  @Roles('admin')
  @ApiResponse({ status: 201, type: CreatedApiTokenDto, description: 'the token is shown only in this response' })
  createToken(@Body() body: CreateApiTokenDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.operators.createToken(body.username, body.name, operatorActor(operator));
  }

  @Delete('tokens/:id')
  @HttpCode(204)
  @Roles('admin')
  revokeToken(@Param('id', DatabaseIdPipe) id: number, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.operators.revokeToken(id, operatorActor(operator));
  }
}
