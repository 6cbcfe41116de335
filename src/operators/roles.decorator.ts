import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { OperatorRole } from '../generated/prisma/enums.js';

export const ROLES_KEY = 'operatorRoles';

export const OPERATOR_ROLES: readonly OperatorRole[] = ['admin', 'responder', 'manager'];

/** The operator roles allowed on a route or controller; every /api and /dashboard route names its roles. */
export const Roles = (...roles: OperatorRole[]) => SetMetadata(ROLES_KEY, roles);

/** Admins may do everything a responder may, so a route listing `responder` also admits `admin`. */
export function roleAllowed(role: OperatorRole, allowed: readonly OperatorRole[]): boolean {
  return allowed.includes(role) || (role === 'admin' && allowed.includes('responder'));
}

export interface AuthenticatedOperator {
  id: number;
  username: string;
  role: OperatorRole;
  /** Set when the request was authenticated by a dashboard session rather than a bearer token. */
  session?: { idHash: string; csrfToken: string };
}

export const CurrentOperator = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedOperator => ctx.switchToHttp().getRequest().operator,
);

/** The audit actor string for an operator. */
export function operatorActor(operator: AuthenticatedOperator): string {
  return `operator:${operator.username}`;
}
