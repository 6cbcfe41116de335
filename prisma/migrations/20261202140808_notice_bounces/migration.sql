-- CreateEnum
CREATE TYPE "BounceKind" AS ENUM ('failed', 'delayed');

-- CreateTable
CREATE TABLE "notice_bounces" (
    "id" SERIAL NOT NULL,
    "campaign_id" INTEGER NOT NULL,
    "account_id" INTEGER NOT NULL,
    "kind" "BounceKind" NOT NULL,
    "status" TEXT NOT NULL,
    "diagnostic" TEXT,
    "report_key" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notice_bounces_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "notice_bounces_report_key_key" ON "notice_bounces"("report_key");

-- CreateIndex
CREATE INDEX "notice_bounces_campaign_id_account_id_id_idx" ON "notice_bounces"("campaign_id", "account_id", "id");

-- AddForeignKey
ALTER TABLE "notice_bounces" ADD CONSTRAINT "notice_bounces_campaign_id_account_id_fkey" FOREIGN KEY ("campaign_id", "account_id") REFERENCES "campaign_accounts"("campaign_id", "account_id") ON DELETE CASCADE ON UPDATE CASCADE;
