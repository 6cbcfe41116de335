import type { SessionKind } from '../generated/prisma/enums.js';

/** A pre_reset or password_change session asked for a route outside its allow-list. */
export class RestrictedSessionError extends Error {
  constructor(readonly kind: SessionKind) {
    super('finish changing your password first: this session can only reach the password reset pages and sign out');
  }
}

/** The route needs a session and the request has none (or it expired). */
export class SignInRequiredError extends Error {
  constructor() {
    super('sign in first');
  }
}

/** A full session asked for a page of the reset flow it has no business with. */
export class NotForThisSessionError extends Error {
  constructor(readonly kind: SessionKind) {
    super('there is nothing to reset for this account');
  }
}

export class CsrfError extends Error {
  constructor() {
    super('the form has expired; go back, reload the page and try again');
  }
}
