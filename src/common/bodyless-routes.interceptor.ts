import { BadRequestException, type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Request } from 'express';
import type { Observable } from 'rxjs';

const READS_BODY_STREAM = 'readsBodyStream';

/** For a handler that reads the request stream itself (file uploads) rather than declaring @Body(). */
export const ReadsBodyStream = () => SetMetadata(READS_BODY_STREAM, true);

/** Parameter kinds through which a handler receives what a client sent in the body. */
const BODY_PARAMTYPES = new Set([RouteParamtypes.BODY, RouteParamtypes.RAW_BODY, RouteParamtypes.FILE, RouteParamtypes.FILES].map(String));

/** A cookie session may carry its CSRF token as a form field on any write; the operator guard has already read it. */
const CSRF_FIELD = '_csrf';

/** At most this many names in the message: the field names are the client's text. */
const NAMED_FIELDS = 10;

/**
 * Refuses a body sent to a route that declares none, so a field the route does not know (`{"dryRun":true}` on
 * launch) is an error, as on routes with a DTO, rather than silently ignored. Runs after the guards: who may call
 * the route is answered first. An empty body (none, `{}`, an empty form) is no body.
 */
@Injectable()
export class BodylessRoutesInterceptor implements NestInterceptor {
  private readonly takesBody = new WeakMap<object, boolean>();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http' && !this.declaresBody(context)) {
      const problem = unexpectedBody(context.switchToHttp().getRequest<Request>());
      if (problem) throw new BadRequestException(problem);
    }
    return next.handle();
  }

  private declaresBody(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let known = this.takesBody.get(handler);
    if (known === undefined) {
      const args: Record<string, unknown> = Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {};
      known = Reflect.getMetadata(READS_BODY_STREAM, handler) === true || Object.keys(args).some((key) => BODY_PARAMTYPES.has(key.split(':')[0]));
      this.takesBody.set(handler, known);
    }
    return known;
  }
}

/** What is wrong with the request's body on a route that takes none, or undefined when it sent none. */
function unexpectedBody(req: Request): string[] | undefined {
  const body: unknown = req.body;
  if (body === undefined) {
    // Not parsed: no body at all, or a type the JSON and form parsers leave alone (Express's own test for a body).
    const sent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    return sent ? [`this route takes no request body (got ${req.headers['content-type'] ?? 'one without a content type'})`] : undefined;
  }
  if (Array.isArray(body)) return body.length ? ['this route takes no request body (got a JSON array)'] : undefined;
  if (body === null || typeof body !== 'object') return ['this route takes no request body'];
  const fields = Object.keys(body).filter((name) => name !== CSRF_FIELD);
  if (!fields.length) return undefined;
  const named = fields.slice(0, NAMED_FIELDS).map((name) => `property ${name.slice(0, 100)} should not exist: this route takes no request body`);
  return fields.length > NAMED_FIELDS ? [...named, `and ${fields.length - NAMED_FIELDS} more unexpected properties`] : named;
}
