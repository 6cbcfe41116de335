-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "domain_rates" JSONB NOT NULL DEFAULT '{}';
