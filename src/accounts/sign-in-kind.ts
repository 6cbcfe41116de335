import type { Account } from '../generated/prisma/client.js';
import type { SessionKind } from '../generated/prisma/enums.js';

/**
 * The session a correct sign-in starts, by this product's own sign-in or through an application's gate.
 * An administrator's temporary password outranks the breach flag (the help desk has checked who the user is);
 * the breach flag outranks plain expiry, whose password-only change would not need the mailbox.
 */
export function signInKind(account: Pick<Account, 'passwordExpired' | 'mustReset' | 'passwordChangedAt'>, expiryDays: number | undefined): SessionKind {
  if (account.passwordExpired) return 'password_change';
  if (account.mustReset) return 'pre_reset';
  const expired = Boolean(expiryDays && account.passwordChangedAt && account.passwordChangedAt.getTime() + expiryDays * 86_400_000 <= Date.now());
  return expired ? 'password_change' : 'full';
}
