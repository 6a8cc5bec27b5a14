-- AlterTable
ALTER TABLE "usage_events" ADD COLUMN "pending_by" TEXT;
ALTER TABLE "usage_events" ADD COLUMN "pending_job" TEXT;
ALTER TABLE "usage_events" ADD COLUMN "pending_reply" TEXT;
ALTER TABLE "usage_events" ADD COLUMN "pending_until_ms" BIGINT;

-- CreateIndex
CREATE INDEX "usage_events_pending_until_ms_idx" ON "usage_events"("pending_until_ms");

