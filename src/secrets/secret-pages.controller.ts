import { Body, Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { TemplatesService } from '../templates/templates.service.js';
import { RevealSecretDto } from './dto/reveal-secret.dto.js';
import { SecretRevealService, type Visitor } from './secret-reveal.service.js';
import { presentSecretView } from './secret-view.presenter.js';

/** The user's side of a one-time link; HTML for browsers, JSON for `Accept: application/json`. */
@ApiExcludeController()
@Controller('secret')
export class SecretPagesController {
  constructor(
    private readonly secrets: SecretRevealService,
    private readonly templates: TemplatesService,
  ) {}

  @Get(':token')
  async show(@Param('token') token: string, @Req() req: Request, @Res() res: Response) {
    this.send(req, res, token, await this.secrets.view(token, visitor(req)));
  }

  @Post(':token/reveal')
  async reveal(@Param('token') token: string, @Body() form: RevealSecretDto, @Req() req: Request, @Res() res: Response) {
    this.send(req, res, token, await this.secrets.reveal(token, form ?? {}, visitor(req)));
  }

  private send(req: Request, res: Response, token: string, view: Parameters<typeof presentSecretView>[0]): void {
    const page = presentSecretView(view, token);
    res.status(page.status).set({ 'Cache-Control': 'no-store', Pragma: 'no-cache', 'X-Robots-Tag': 'noindex, nofollow', 'Referrer-Policy': 'no-referrer' });
    if (page.retryAfterSeconds) res.set('Retry-After', String(page.retryAfterSeconds));
    if (req.accepts(['html', 'json']) === 'json') res.json(page.json);
    else res.type('html').send(this.templates.renderPage(page.template, page.vars));
  }
}

function visitor(req: Request): Visitor {
  return { ip: req.ip, userAgent: req.get('user-agent')?.slice(0, 200) };
}
