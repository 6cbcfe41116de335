import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { OperatorRole } from '../generated/prisma/enums.js';

export const ROLES_KEY = 'operatorRoles';

/** The operator roles allowed on a route or controller; every /api route names its roles. */
export const Roles = (...roles: OperatorRole[]) => SetMetadata(ROLES_KEY, roles);

export interface AuthenticatedOperator {
  id: number;
  username: string;
  role: OperatorRole;
}

export const CurrentOperator = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedOperator => ctx.switchToHttp().getRequest().operator,
);

/** The audit actor string for an operator. */
export function operatorActor(operator: AuthenticatedOperator): string {
  return `operator:${operator.username}`;
}
