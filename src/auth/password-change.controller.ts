import { Body, Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { NewPasswordDto } from './dto/new-password.dto.js';
import { ForcedChangeService } from './forced-change.service.js';
import { PageResponderService } from './page-responder.service.js';
import { type ActiveSession, CurrentSession, UserPage } from './user-page.decorator.js';

@ApiExcludeController()
@Controller('password/change')
@UserPage({ sessions: ['password_change'], required: true, csrf: 'session' })
export class PasswordChangeController {
  constructor(
    private readonly forcedChange: ForcedChangeService,
    private readonly pages: PageResponderService,
  ) {}

  @Get()
  async show(@CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.forcedChange.page(session));
  }

  @Post()
  async submit(@Body() form: NewPasswordDto, @CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.forcedChange.submit(session, form));
  }
}
