export { MAX_LINK_TTL_MINUTES } from '../notifications/user-mail/reset-tokens.js';
export { MAX_NOTICE_RATE } from '../notifications/notices/notice-rate.js';
