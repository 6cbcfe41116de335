import { Body, Controller, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DatabaseIdPipe } from '../common/dto/database-int.js';
import { CurrentOperator, Roles, operatorActor, type AuthenticatedOperator } from '../operators/roles.decorator.js';
import { IssueTemporaryPasswordDto } from './dto/issue-temporary-password.dto.js';
import { SecretStatusDto, TemporaryPasswordIssuedDto } from './dto/temporary-password-issued.dto.js';
import { SecretsService } from './secrets.service.js';

@ApiTags('secrets')
@ApiBearerAuth()
@Controller('api')
export class SecretsController {
  constructor(private readonly secrets: SecretsService) {}

  @Post('accounts/:username/temporary-password')
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  @Roles('responder', 'admin')
  @ApiOperation({ summary: 'Set a generated, expired temporary password and return a one-time view link (never the password)' })
  @ApiCreatedResponse({ type: TemporaryPasswordIssuedDto })
  issue(@Param('username') username: string, @Body() dto: IssueTemporaryPasswordDto, @CurrentOperator() operator: AuthenticatedOperator) {
    return this.secrets.issueTemporaryPassword(username, dto, operatorActor(operator));
  }

  @Get('secrets/:id')
  @Roles('responder', 'admin')
  @ApiOperation({ summary: 'Delivery status of a one-time secret: viewed or not, and when' })
  @ApiOkResponse({ type: SecretStatusDto })
  status(@Param('id', DatabaseIdPipe) id: number) {
    return this.secrets.status(id);
  }
}
