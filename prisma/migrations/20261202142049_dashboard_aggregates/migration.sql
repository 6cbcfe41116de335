-- AlterTable
ALTER TABLE "campaign_accounts" ADD COLUMN     "org_unit" TEXT;

-- CreateTable
CREATE TABLE "campaign_org_unit_counts" (
    "campaign_id" INTEGER NOT NULL,
    "org_unit" TEXT NOT NULL,
    "total" INTEGER NOT NULL DEFAULT 0,
    "completed" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "campaign_org_unit_counts_pkey" PRIMARY KEY ("campaign_id","org_unit")
);

-- CreateTable
CREATE TABLE "campaign_completion_times" (
    "campaign_id" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "campaign_completion_times_pkey" PRIMARY KEY ("campaign_id","bucket")
);

-- CreateTable
CREATE TABLE "campaign_completion_curve" (
    "campaign_id" INTEGER NOT NULL,
    "width_seconds" INTEGER NOT NULL,
    "bucket" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "campaign_completion_curve_pkey" PRIMARY KEY ("campaign_id","width_seconds","bucket")
);

-- AddForeignKey
ALTER TABLE "campaign_org_unit_counts" ADD CONSTRAINT "campaign_org_unit_counts_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_completion_times" ADD CONSTRAINT "campaign_completion_times_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_completion_curve" ADD CONSTRAINT "campaign_completion_curve_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: existing campaigns keep their accounts' current org units as the flagged ones.
UPDATE "campaign_accounts" ca SET "org_unit" = a."org_unit" FROM "accounts" a WHERE a."id" = ca."account_id" AND a."org_unit" IS NOT NULL;

-- Backfill: the dashboard rows of every existing campaign, recounted from campaign_accounts in one statement. The
-- bucket edges and curve widths are those of src/progress/completion-buckets.ts when this migration was written.
WITH edges AS (
  SELECT array_agg(e ORDER BY e) AS e FROM (
    SELECT s::float8 AS e FROM generate_series(0, 31) s
    UNION ALL
    SELECT 2 ^ o + sub * 2 ^ o / 16 FROM generate_series(5, 25) o, generate_series(0, 15) sub
  ) x
), units AS (
  INSERT INTO "campaign_org_unit_counts" ("campaign_id", "org_unit", "total", "completed")
  SELECT "campaign_id", coalesce("org_unit", ''), count(*)::int, (count(*) FILTER (WHERE "state" = 'completed'))::int
  FROM "campaign_accounts" GROUP BY 1, 2
), times AS (
  INSERT INTO "campaign_completion_times" ("campaign_id", "bucket", "count")
  SELECT ca."campaign_id", greatest(width_bucket(extract(epoch FROM ca."completed_at" - ca."flagged_at")::float8, edges.e), 1) - 1, count(*)::int
  FROM "campaign_accounts" ca, edges
  WHERE ca."state" = 'completed' AND ca."completed_at" IS NOT NULL GROUP BY 1, 2
)
INSERT INTO "campaign_completion_curve" ("campaign_id", "width_seconds", "bucket", "count")
SELECT ca."campaign_id", w, floor(extract(epoch FROM ca."completed_at") / w)::int, count(*)::int
FROM "campaign_accounts" ca, unnest(ARRAY[15, 60, 240, 960, 3840, 15360, 61440, 245760]) w
WHERE ca."state" = 'completed' AND ca."completed_at" IS NOT NULL GROUP BY 1, 2, 3;
