-- CreateTable
CREATE TABLE "audit_events" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "server_id" TEXT NOT NULL,
    "channel_id" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "template_id" TEXT,
    "input_sha256" TEXT NOT NULL,
    "output_sha256" TEXT,
    "at_ms" BIGINT NOT NULL,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "audit_events_output_sha256_idx" ON "audit_events"("output_sha256");

-- CreateIndex
CREATE INDEX "audit_events_input_sha256_idx" ON "audit_events"("input_sha256");

-- CreateIndex
CREATE INDEX "audit_events_platform_platform_user_id_idx" ON "audit_events"("platform", "platform_user_id");

-- CreateIndex
CREATE INDEX "audit_events_at_ms_idx" ON "audit_events"("at_ms");

