import { ResultCodeError } from 'ldapts';

/**
 * The directory could not answer (down, unreachable, timed out, TLS failure, busy) or refused the product's own
 * service account. Nothing was decided about the user's password; `detail` is for operators' logs, never for users.
 */
export class DirectoryUnavailableError extends Error {
  constructor(readonly detail: string) {
    super(`the directory is unavailable: ${detail}`);
  }
}

/** The directory refused a new password by its own rules; `reason` is in plain words, fit to show the user. */
export class DirectoryRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`the directory refused the new password: ${reason}`);
  }
}

/** Result codes that say the server cannot serve the request now (RFC 4511 busy, unavailable, timeLimitExceeded, other). */
const UNAVAILABLE_CODES = new Set([3, 51, 52, 80]);
/** invalidCredentials: a bind with a wrong password, an unknown DN, or (AD) a locked, expired or must-change account. */
export const INVALID_CREDENTIALS = 49;

export function resultCode(err: unknown): number | undefined {
  return err instanceof ResultCodeError ? err.code : undefined;
}

/**
 * Active Directory answers invalidCredentials with a sub-code after checking the password: `data 773` (must change
 * at next logon) and `data 532` (expired) only come with the right password, `52e` with a wrong one.
 */
export function adPasswordMustChange(err: unknown): boolean {
  return resultCode(err) === INVALID_CREDENTIALS && /AcceptSecurityContext error, data (773|532),/i.test(diagnostic(err));
}

/** The server's diagnostic message without the " Code: 0x13" ldapts appends. */
export function diagnostic(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
}

/** Whether `err` means "the directory cannot answer now" rather than an answer about this request. */
export function isUnavailable(err: unknown): boolean {
  const code = resultCode(err);
  return code === undefined || UNAVAILABLE_CODES.has(code);
}

export function unavailable(err: unknown, doing: string): DirectoryUnavailableError {
  const code = resultCode(err);
  const cause = (err as NodeJS.ErrnoException)?.code;
  return new DirectoryUnavailableError(`${doing}: ${code !== undefined ? `result ${code} ` : cause ? `${cause} ` : ''}${diagnostic(err)}`.slice(0, 300));
}

/**
 * Plain words for a password the directory refused. OpenLDAP's ppolicy answers constraintViolation with one of a few
 * fixed texts; Active Directory answers 0000052D (check_password_restrictions) for length, complexity and history alike.
 */
export function refusalReason(err: unknown): string {
  const text = diagnostic(err);
  if (/quality checking|too short|pwdMinLength/i.test(text)) return 'The directory refused this password: it is too short or too simple for the directory\'s own password policy.';
  if (/in history/i.test(text)) return 'The directory refused this password: you have used it before. Choose one you have not used.';
  if (/not being changed from existing value/i.test(text)) return 'The directory refused this password: it is your current password.';
  if (/too young/i.test(text)) return 'The directory refused the change: your password was changed too recently. Try again later.';
  if (/0000052D/i.test(text)) return 'The directory refused this password: it does not meet the directory\'s length, complexity or history rules.';
  const shown = text.replace(/[^\x20-\x7e]/g, '').slice(0, 200);
  return `The directory refused this password${shown ? `: ${shown}` : '.'}`;
}
