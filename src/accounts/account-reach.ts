import { Prisma } from '../generated/prisma/client.js';

/**
 * The accounts someone can sign in to and so reach the pre-reset page: a password this product checks, the gate of a
 * connected application, or a directory bind. In SQL, over `accounts` aliased `a`.
 */
export const CAN_REACH_PRE_RESET = Prisma.sql`(a.password_hash IS NOT NULL OR a.application_id IS NOT NULL OR a.directory_dn IS NOT NULL)`;
