import { Prisma } from '../generated/prisma/client.js';

/**
 * The accounts someone can sign in to and so reach the pre-reset page: a password this product checks, the gate of a
 * connected application, or a directory bind. In SQL, over `accounts` aliased `a`.
 */
export const CAN_REACH_PRE_RESET = Prisma.sql`(a.password_hash IS NOT NULL OR a.application_id IS NOT NULL OR a.directory_dn IS NOT NULL)`;

/**
 * How such an account reaches it, one way each, as sign-in decides: a directory DN binds against the directory, else
 * an application's account signs in there and asks the gate, else the product checks its own hash.
 */
export const REACHES_BY_DIRECTORY = Prisma.sql`(a.directory_dn IS NOT NULL)`;
export const REACHES_BY_GATE = Prisma.sql`(a.directory_dn IS NULL AND a.application_id IS NOT NULL)`;
export const REACHES_BY_OWN_SIGN_IN = Prisma.sql`(a.directory_dn IS NULL AND a.application_id IS NULL AND a.password_hash IS NOT NULL)`;
