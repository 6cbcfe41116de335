-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('pending', 'delivered', 'failed');

-- AlterTable
ALTER TABLE "accounts" ADD COLUMN     "event_sequence" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "gate_handoffs" (
    "id" SERIAL NOT NULL,
    "token_hash" TEXT NOT NULL,
    "account_id" INTEGER NOT NULL,
    "application_id" INTEGER NOT NULL,
    "return_to" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "session_id_hash" TEXT,

    CONSTRAINT "gate_handoffs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" SERIAL NOT NULL,
    "webhook_id" TEXT NOT NULL,
    "application_id" INTEGER NOT NULL,
    "account_id" INTEGER,
    "campaign_id" INTEGER,
    "type" TEXT NOT NULL,
    "sequence" INTEGER,
    "payload" JSONB NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_status" INTEGER,
    "last_reply" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "queued_at" TIMESTAMPTZ(3),
    "last_attempt_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "gate_handoffs_token_hash_key" ON "gate_handoffs"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "gate_handoffs_session_id_hash_key" ON "gate_handoffs"("session_id_hash");

-- CreateIndex
CREATE INDEX "gate_handoffs_account_id_idx" ON "gate_handoffs"("account_id");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_webhook_id_key" ON "webhook_deliveries"("webhook_id");

-- CreateIndex
CREATE INDEX "webhook_deliveries_application_id_status_id_idx" ON "webhook_deliveries"("application_id", "status", "id");

-- CreateIndex
CREATE INDEX "webhook_deliveries_account_id_idx" ON "webhook_deliveries"("account_id");

-- CreateIndex
CREATE INDEX "webhook_deliveries_status_created_at_idx" ON "webhook_deliveries"("status", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_queued_at_idx" ON "webhook_deliveries"("queued_at");

-- AddForeignKey
ALTER TABLE "gate_handoffs" ADD CONSTRAINT "gate_handoffs_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "gate_handoffs" ADD CONSTRAINT "gate_handoffs_application_id_fkey" FOREIGN KEY ("application_id") REFERENCES "applications"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_application_id_fkey" FOREIGN KEY ("application_id") REFERENCES "applications"("id") ON DELETE CASCADE ON UPDATE CASCADE;
