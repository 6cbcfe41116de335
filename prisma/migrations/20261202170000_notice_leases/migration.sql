-- A notice's claim: the worker process sending it (notice_lease) and until when, renewed while the send lasts.
ALTER TABLE "campaign_accounts" ADD COLUMN "notice_lease" UUID,
ADD COLUMN "notice_lease_until" TIMESTAMPTZ(3);
