-- CreateEnum
CREATE TYPE "ApplicationHashFormat" AS ENUM ('argon2id', 'bcrypt');

-- AlterTable
ALTER TABLE "accounts" ADD COLUMN     "application_id" INTEGER,
ADD COLUMN     "directory_dn" TEXT,
ADD COLUMN     "disabled" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "external_id" TEXT;

-- CreateTable
CREATE TABLE "applications" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "return_origins" TEXT[],
    "webhook_url" TEXT NOT NULL,
    "hash_format" "ApplicationHashFormat" NOT NULL DEFAULT 'argon2id',
    "key_hash" TEXT NOT NULL,
    "secret_ciphertext" TEXT NOT NULL,
    "previous_secret_ciphertext" TEXT,
    "previous_secret_until" TIMESTAMPTZ(3),
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "applications_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "applications_name_key" ON "applications"("name");

-- CreateIndex
CREATE UNIQUE INDEX "applications_key_hash_key" ON "applications"("key_hash");

-- CreateIndex
CREATE UNIQUE INDEX "accounts_directory_dn_key" ON "accounts"("directory_dn");

-- CreateIndex
CREATE INDEX "accounts_application_id_external_id_idx" ON "accounts"("application_id", "external_id");

-- AddForeignKey
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_application_id_fkey" FOREIGN KEY ("application_id") REFERENCES "applications"("id") ON DELETE SET NULL ON UPDATE CASCADE;
