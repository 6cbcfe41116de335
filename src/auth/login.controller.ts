import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AccountService } from './account.service.js';
import { FormDto } from './dto/form.dto.js';
import { LoginDto } from './dto/login.dto.js';
import { LoginService } from './login.service.js';
import { PageResponderService } from './page-responder.service.js';
import { type ActiveSession, CurrentSession, UserPage } from './user-page.decorator.js';

@ApiExcludeController()
@Controller()
export class LoginController {
  constructor(
    private readonly login: LoginService,
    private readonly account: AccountService,
    private readonly pages: PageResponderService,
  ) {}

  @Get('login')
  @UserPage({ sessions: ['full'] })
  show(@Query('notice') notice: string | undefined, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, this.login.page(notice, session));
  }

  @Post('login')
  @UserPage({ sessions: ['full'], csrf: 'login' })
  async submit(@Body() form: LoginDto, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.login.submit(form, this.pages.signInRequest(req), session));
  }

  @Get('account')
  @UserPage({ sessions: ['full'], required: true })
  async showAccount(@CurrentSession() session: ActiveSession, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.account.page(session));
  }

  @Post('logout')
  @UserPage({ sessions: ['full', 'pre_reset', 'password_change'], csrf: 'session' })
  async logout(@Body() _form: FormDto, @CurrentSession() session: ActiveSession | undefined, @Req() req: Request, @Res() res: Response) {
    this.pages.send(req, res, await this.account.logout(session));
  }
}
