-- AlterTable
ALTER TABLE "audit_events" ADD COLUMN     "message_ref" TEXT;

-- CreateIndex
CREATE INDEX "audit_events_platform_server_id_message_ref_idx" ON "audit_events"("platform", "server_id", "message_ref");

