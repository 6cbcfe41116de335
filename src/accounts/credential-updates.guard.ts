import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { AuthenticatedOperator } from '../operators/roles.decorator.js';

/** Rewriting existing accounts' hashes and mail addresses (`updateCredentials`) is for admins only, not responders. */
@Injectable()
export class CredentialUpdatesGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { operator?: AuthenticatedOperator }>();
    const asked = req.query.updateCredentials;
    if (asked === undefined || asked === 'false' || asked === '0') return true;
    if (req.operator?.role === 'admin') return true;
    throw new ForbiddenException('updateCredentials is for admins only');
  }
}
