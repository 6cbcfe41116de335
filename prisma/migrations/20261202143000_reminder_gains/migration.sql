-- AlterTable
ALTER TABLE "campaign_reminders" ADD COLUMN     "completed_within_48h" INTEGER NOT NULL DEFAULT 0;

-- Reminders sent before this column existed: their gain counted once from the progress rows, kept with each completion since.
UPDATE campaign_reminders r SET completed_within_48h = (
  SELECT count(*)::int FROM campaign_accounts ca
  WHERE ca.campaign_id = r.campaign_id AND ca.state = 'completed'
    AND ca.completed_at >= r.started_at AND ca.completed_at < r.started_at + interval '48 hours');
