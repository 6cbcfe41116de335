import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** The token a form posts as `_csrf`, or a script sends as `X-CSRF-Token`. */
export function submittedCsrf(req: Request): string | undefined {
  const header = req.get('x-csrf-token');
  const field: unknown = (req.body as Record<string, unknown> | undefined)?._csrf;
  return header ?? (typeof field === 'string' ? field : undefined);
}

export function csrfMatches(expected: string | undefined, submitted: string | undefined): boolean {
  if (!expected || !submitted) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
