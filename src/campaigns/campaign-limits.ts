export { MAX_LINK_TTL_MINUTES } from '../notifications/user-mail/reset-tokens.js';

/** The highest notice rate a campaign may be given, per second across all workers. */
export const MAX_NOTICE_RATE = 10_000;

/** A canary is a handful of notices to read before the rest go, not a way to send in chunks. */
export const MAX_CANARY = 1000;
