-- AlterTable
ALTER TABLE "campaigns" ADD COLUMN     "canary_remaining" INTEGER;
