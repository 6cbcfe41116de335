import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { OperatorsService } from './operators.service.js';
import { ROLES_KEY } from './roles.decorator.js';

/** Bearer-token auth for operator routes: 401 without a valid token, 403 when the role is not allowed. */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly operators: OperatorsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<OperatorRole[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const request = context.switchToHttp().getRequest();
    const header: string | undefined = request.headers.authorization;
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const operator = request.operator ?? (token ? await this.operators.authenticateToken(token) : null);
    if (!operator) throw new UnauthorizedException('an operator token is required (Authorization: Bearer <token>)');
    if (!roles.includes(operator.role)) throw new ForbiddenException(`this action needs the role ${roles.join(' or ')}`);
    request.operator = operator;
    return true;
  }
}
