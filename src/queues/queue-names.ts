/** Queue names and the payload each job carries. Job ids never contain ':' (BullMQ 6 rejects it). */
export const QUEUES = {
  /** Mail a user asked for (reset links, confirmations): never waits behind a campaign backlog. */
  userMail: 'user-mail',
  /** Campaign housekeeping: flagging in batches and feeding the notice queue in windows. */
  campaigns: 'campaigns',
  /** Signed events to connected applications (webhook_deliveries is the outbox). */
  webhooks: 'webhooks',
} as const;

/** Campaign courtesy notices, throttled per campaign: each campaign has a queue of its own (noticeQueueName). */
const NOTICE_QUEUE_PREFIX = 'notices';

export const JOBS = {
  sendNotice: 'send-notice',
  sendUserMail: 'send-user-mail',
  launchCampaign: 'launch-campaign',
  feedNotices: 'feed-notices',
  deliverWebhook: 'deliver-webhook',
  /** Starts a campaign's due reminder and tops its queue up (on the campaigns queue). */
  feedReminders: 'feed-reminders',
  /** One reminder to one account, on the campaign's notice queue: inside its rate and its pause. */
  sendReminder: 'send-reminder',
  sendDigest: 'send-digest',
} as const;

/** User mail is one job name; the payload's kind says which mail. */
export const USER_MAIL_KINDS = ['reset-link', 'password-changed'] as const;

/** Every kind of job a worker runs; each has exactly one `@HandlesJob` handler (checked before workers start). */
export const JOB_KINDS = [
  JOBS.launchCampaign,
  JOBS.feedNotices,
  JOBS.sendNotice,
  JOBS.deliverWebhook,
  JOBS.feedReminders,
  JOBS.sendReminder,
  JOBS.sendDigest,
  ...USER_MAIL_KINDS,
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface SendNoticeJob {
  campaignId: number;
  accountId: number;
}

/** Reminder `reminder` (1 for the first) of the campaign's schedule to one account. */
export interface SendReminderJob extends SendNoticeJob {
  reminder: number;
}

export interface SendUserMailJob {
  kind: (typeof USER_MAIL_KINDS)[number];
  accountId: number;
  /** Ties a reset-link job to the request that asked for it (the token itself is created by the worker, never queued). */
  requestId?: string;
}

/** Only the row id: the payload (which may hold a credential hash) stays in the database, never in Redis. */
export interface DeliverWebhookJob {
  deliveryId: number;
  applicationId: number;
}

export function webhookJobId(deliveryId: number): string {
  return `webhook-${deliveryId}`;
}

export interface CampaignJob {
  campaignId: number;
}

export function noticeJobId(campaignId: number, accountId: number): string {
  return `notice-${campaignId}-${accountId}`;
}

/** Each campaign's notices have a queue of their own, so each campaign's global rate limit and pause are its own. */
export function noticeQueueName(campaignId: number): string {
  return `${NOTICE_QUEUE_PREFIX}-${campaignId}`;
}

export function launchJobId(campaignId: number): string {
  return `launch-${campaignId}`;
}

export function feedJobId(campaignId: number): string {
  return `feed-${campaignId}`;
}

export function reminderJobId(campaignId: number, accountId: number, reminder: number): string {
  return `reminder-${campaignId}-${accountId}-${reminder}`;
}

export function feedRemindersJobId(campaignId: number): string {
  return `reminders-${campaignId}`;
}

export function digestJobId(campaignId: number): string {
  return `digest-${campaignId}`;
}
