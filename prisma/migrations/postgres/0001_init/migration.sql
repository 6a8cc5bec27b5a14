-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "default_template_id" INTEGER,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "templates" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "crop_png" BYTEA NOT NULL,
    "crop_size" INTEGER NOT NULL,
    "landmarks" BYTEA NOT NULL,
    "analysis" TEXT NOT NULL,
    "embedding" BYTEA NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "templates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "server_settings" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "server_id" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_commands" TEXT NOT NULL DEFAULT '[]',
    "allowed_channels" TEXT NOT NULL DEFAULT '[]',
    "daily_quota_per_user" INTEGER,
    "daily_quota_per_server" INTEGER,
    "cooldown_seconds" INTEGER,
    "max_templates_per_user" INTEGER,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "server_settings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_events" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "server_id" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "at_ms" BIGINT NOT NULL,
    "day" INTEGER NOT NULL,

    CONSTRAINT "usage_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bans" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "server_id" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bans_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_default_template_id_key" ON "users"("default_template_id");

-- CreateIndex
CREATE UNIQUE INDEX "users_platform_platform_user_id_key" ON "users"("platform", "platform_user_id");

-- CreateIndex
CREATE UNIQUE INDEX "templates_user_id_name_key" ON "templates"("user_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "server_settings_platform_server_id_key" ON "server_settings"("platform", "server_id");

-- CreateIndex
CREATE INDEX "usage_events_platform_server_id_day_idx" ON "usage_events"("platform", "server_id", "day");

-- CreateIndex
CREATE INDEX "usage_events_platform_platform_user_id_server_id_at_ms_idx" ON "usage_events"("platform", "platform_user_id", "server_id", "at_ms");

-- CreateIndex
CREATE UNIQUE INDEX "bans_platform_server_id_platform_user_id_key" ON "bans"("platform", "server_id", "platform_user_id");

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_default_template_id_fkey" FOREIGN KEY ("default_template_id") REFERENCES "templates"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "templates" ADD CONSTRAINT "templates_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

