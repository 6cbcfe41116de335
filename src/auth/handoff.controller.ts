import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { HandoffService } from './handoff.service.js';
import { PageResponderService } from './page-responder.service.js';
import { type ActiveSession, CurrentSession, UserPage } from './user-page.decorator.js';

@ApiExcludeController()
@Controller('gate/handoff')
export class HandoffController {
  constructor(
    private readonly handoffs: HandoffService,
    private readonly pages: PageResponderService,
  ) {}

  /** Uses the token up on GET: it is never mailed, only handed to the browser by the application's redirect. */
  @Get(':token')
  @UserPage({ sessions: ['full', 'pre_reset', 'password_change'] })
  async open(@Param('token') token: string, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.handoffs.open(token, session));
  }
}
