-- AlterTable
ALTER TABLE "campaign_accounts" ADD COLUMN     "reminder_due" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "reminder_sent_at" TIMESTAMPTZ(3),
ADD COLUMN     "reminders_sent" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "digest_sent_at" TIMESTAMPTZ(3),
ADD COLUMN     "digest_to" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "max_reminders" INTEGER,
ADD COLUMN     "reminder_offsets" INTEGER[] DEFAULT ARRAY[]::INTEGER[];

-- CreateTable
CREATE TABLE "campaign_reminders" (
    "campaign_id" INTEGER NOT NULL,
    "number" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "recipients" INTEGER NOT NULL,
    "sent" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "cursor" INTEGER NOT NULL DEFAULT 0,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "campaign_reminders_pkey" PRIMARY KEY ("campaign_id","number")
);

-- CreateIndex
CREATE INDEX "campaign_accounts_campaign_id_reminder_due_account_id_idx" ON "campaign_accounts"("campaign_id", "reminder_due", "account_id");

-- AddForeignKey
ALTER TABLE "campaign_reminders" ADD CONSTRAINT "campaign_reminders_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;
