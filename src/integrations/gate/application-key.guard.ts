import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { type AuthenticatedApplication, ApplicationsService } from '../applications/applications.service.js';

type RequestWithApplication = Request & { application?: AuthenticatedApplication };

/** The gate's principal: an enabled application's key (Authorization: Bearer roa_…); operator tokens are refused. */
@Injectable()
export class ApplicationKeyGuard implements CanActivate {
  constructor(private readonly applications: ApplicationsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<RequestWithApplication>();
    const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const application = key ? await this.applications.authenticateKey(key) : null;
    if (!application) throw new UnauthorizedException('an enabled application key (Authorization: Bearer roa_…) is required');
    request.application = application;
    return true;
  }
}

export const CurrentApplication = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedApplication => ctx.switchToHttp().getRequest<RequestWithApplication>().application!,
);
