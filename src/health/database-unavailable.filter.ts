import { type ArgumentsHost, Catch, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';
import { Prisma } from '../generated/prisma/client.js';

/** Prisma codes for "cannot talk to the database right now" (unreachable, closed, timed out, pool exhausted). */
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** What the driver adapter reports when the server is gone or restarting. */
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TlsConnectionError']);
/** PostgreSQL SQLSTATEs of a server shutting down or starting up (57P01-57P03) and of lost connections (08xxx). */
const UNAVAILABLE_SQLSTATE = /^(57P0[123]|08\d{3})$/;
/** The pg driver's own words when a connection dies under a query (no code to go by). */
const LOST_CONNECTION = /Connection terminated|Can't reach database server|server closed the connection|ECONNREFUSED|the database system is (shutting down|starting up)/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNAVAILABLE_CODES.has(error.code)) return true;
    const cause = (error.meta?.driverAdapterError as { cause?: { kind?: string; code?: string; originalCode?: string } } | undefined)?.cause;
    if (UNAVAILABLE_KINDS.has(cause?.kind ?? '') || UNAVAILABLE_SQLSTATE.test(cause?.originalCode ?? cause?.code ?? '')) return true;
  }
  return error instanceof Error && LOST_CONNECTION.test(error.message);
}

/**
 * While PostgreSQL is down or restarting every request that needs it answers 503 with Retry-After, not a 500:
 * the condition is temporary and clients (and load balancers) should retry. Anything else keeps Nest's handling.
 */
@Catch(Prisma.PrismaClientKnownRequestError, Prisma.PrismaClientInitializationError, Prisma.PrismaClientUnknownRequestError)
export class DatabaseUnavailableFilter extends BaseExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http' || !isDatabaseUnavailable(error)) return super.catch(error, host);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return super.catch(error, host);
    res
      .status(HttpStatus.SERVICE_UNAVAILABLE)
      .set({ 'Retry-After': '5', 'Cache-Control': 'no-store' })
      .json({ statusCode: 503, error: 'Service Unavailable', message: 'the database is unavailable right now; try again in a few seconds' });
  }
}
