import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedApplication } from '../applications/applications.service.js';
import { ApplicationKeyGuard, CurrentApplication } from './application-key.guard.js';
import { GateDecisionDto, GateSignInDto } from './dto/gate-sign-in.dto.js';
import { GateService } from './gate.service.js';

/** Called by a connected application with its key, after it verified the password and before it starts its session. */
@ApiTags('gate')
@ApiBearerAuth()
@Controller('api/gate')
@UseGuards(ApplicationKeyGuard)
export class GateController {
  constructor(private readonly gate: GateService) {}

  @Post('sign-in')
  @HttpCode(200)
  @ApiResponse({ status: 200, type: GateDecisionDto, description: 'the same shape for known and unknown users' })
  signIn(@Body() body: GateSignInDto, @CurrentApplication() application: AuthenticatedApplication): Promise<GateDecisionDto> {
    return this.gate.signIn(application, body);
  }
}
