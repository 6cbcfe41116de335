import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { FormDto } from './dto/form.dto.js';
import { PageResponderService } from './page-responder.service.js';
import { PreResetService } from './pre-reset.service.js';
import { type ActiveSession, CurrentSession, UserPage } from './user-page.decorator.js';

@ApiExcludeController()
@Controller('pre-reset')
@UserPage({ sessions: ['pre_reset'], required: true, csrf: 'session' })
export class PreResetController {
  constructor(
    private readonly preReset: PreResetService,
    private readonly pages: PageResponderService,
  ) {}

  @Get()
  async show(@Query('sent') sent: string | undefined, @CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.preReset.page(session, sent === '1'));
  }

  @Post('send-link')
  async sendLink(@Body() _form: FormDto, @CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.preReset.sendLink(session, req.ip ?? ''));
  }
}
