import { Prisma } from '../generated/prisma/client.js';

/** Mail may go to an account only at an address it has verified: never to an empty or unverified one. */
export function hasReachableEmail<T extends { email: string | null; emailVerified: boolean }>(account: T): account is T & { email: string } {
  return Boolean(account.email) && account.emailVerified;
}

/** The same rule in SQL, over `accounts` aliased `a`. */
export const REACHABLE_EMAIL = Prisma.sql`(a.email IS NOT NULL AND a.email <> '' AND a.email_verified)`;
