import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { ROLES_KEY, roleAllowed, type AuthenticatedOperator } from './roles.decorator.js';

export const UNAUTHENTICATED_MESSAGE = 'an operator token (Authorization: Bearer <token>) or an operator session is required';

/**
 * Operator auth for every route with @Roles: a bearer token or the dashboard session cookie.
 * 401 without valid credentials, 403 when the role is not allowed or a cookie-authenticated write lacks its CSRF token.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: OperatorAuthenticatorService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<OperatorRole[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const request = context.switchToHttp().getRequest<Request & { operator?: AuthenticatedOperator }>();
    const operator = request.operator ?? (await this.authenticator.authenticate(request));
    if (!operator) throw new UnauthorizedException(UNAUTHENTICATED_MESSAGE);
    if (!roleAllowed(operator.role, roles)) throw new ForbiddenException(`this action needs the role ${roles.join(' or ')}`);
    if (!this.authenticator.csrfSatisfied(request, operator)) throw new ForbiddenException('the form has expired; reload the page and try again');
    request.operator = operator;
    return true;
  }
}
