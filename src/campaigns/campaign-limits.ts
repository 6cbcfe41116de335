export { MAX_LINK_TTL_MINUTES } from '../notifications/user-mail/reset-tokens.js';

export { MAX_NOTICE_RATE } from '../notifications/notices/notice-rate.js';

/** A canary is a handful of notices to read before the rest go, not a way to send in chunks. */
export const MAX_CANARY = 1000;

export { MAX_REMINDERS } from '../notifications/notices/reminder-schedule.js';

/** The digest goes to named managers, not to a distribution list of everyone. */
export const MAX_DIGEST_MANAGERS = 20;
