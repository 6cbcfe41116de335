/** Runs one statement with the account ids as $1 and returns its row count: a Prisma transaction or a raw pg client. */
export type RevocationRunner = (sql: string, accountIds: number[]) => Promise<number>;

const REVOKE_SESSIONS = `UPDATE sessions SET revoked_at = now() WHERE account_id = ANY($1::int[]) AND revoked_at IS NULL`;
const REVOKE_RESET_LINKS = `UPDATE reset_tokens SET revoked_at = now() WHERE account_id = ANY($1::int[]) AND used_at IS NULL AND revoked_at IS NULL`;

/**
 * What every change of an account's credentials does (a new password, a temporary one, an imported hash or mail
 * address): signs the accounts out everywhere and voids their unused reset links, in the caller's transaction,
 * so nothing opened under the old credentials outlives them.
 */
export async function revokeAccountAccess(run: RevocationRunner, accountIds: number[]): Promise<{ sessions: number; resetLinks: number }> {
  if (!accountIds.length) return { sessions: 0, resetLinks: 0 };
  return { sessions: await run(REVOKE_SESSIONS, accountIds), resetLinks: await run(REVOKE_RESET_LINKS, accountIds) };
}

/** The runner for a Prisma transaction client. */
export function prismaRunner(tx: { $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number> }): RevocationRunner {
  return (sql, ids) => tx.$executeRawUnsafe(sql, ids);
}
