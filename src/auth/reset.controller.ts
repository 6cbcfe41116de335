import { Body, Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { LoginDto } from './dto/login.dto.js';
import { NewPasswordDto } from './dto/new-password.dto.js';
import { PageResponderService } from './page-responder.service.js';
import { ResetService } from './reset.service.js';
import { type ActiveSession, CurrentSession, UserPage } from './user-page.decorator.js';

@ApiExcludeController()
@Controller('reset')
export class ResetController {
  constructor(
    private readonly reset: ResetService,
    private readonly pages: PageResponderService,
  ) {}

  @Get(':token')
  @UserPage({ sessions: ['full', 'pre_reset'] })
  async show(@Param('token') token: string, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.reset.show(token, session));
  }

  @Post(':token/sign-in')
  @UserPage({ sessions: ['full', 'pre_reset'], csrf: 'login' })
  async signIn(@Param('token') token: string, @Body() form: LoginDto, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.reset.signIn(token, form, this.pages.signInRequest(req), session));
  }

  @Post(':token')
  @UserPage({ sessions: ['pre_reset'], required: true, csrf: 'session' })
  async submit(@Param('token') token: string, @Body() form: NewPasswordDto, @CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.reset.submit(token, form, session));
  }
}
