-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_server_settings" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "platform" TEXT NOT NULL,
    "server_id" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_commands" TEXT NOT NULL DEFAULT '[]',
    "allowed_channels" TEXT NOT NULL DEFAULT '[]',
    "daily_quota_per_user" INTEGER,
    "daily_quota_per_server" INTEGER,
    "cooldown_seconds" INTEGER,
    "max_templates_per_user" INTEGER,
    "visible_mark" BOOLEAN NOT NULL DEFAULT false,
    "nsfw_filter" BOOLEAN NOT NULL DEFAULT true,
    "nsfw_threshold" REAL,
    "swap_allowed" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_server_settings" ("allowed_channels", "cooldown_seconds", "daily_quota_per_server", "daily_quota_per_user", "disabled_commands", "enabled", "id", "max_templates_per_user", "platform", "server_id", "updated_at", "visible_mark") SELECT "allowed_channels", "cooldown_seconds", "daily_quota_per_server", "daily_quota_per_user", "disabled_commands", "enabled", "id", "max_templates_per_user", "platform", "server_id", "updated_at", "visible_mark" FROM "server_settings";
DROP TABLE "server_settings";
ALTER TABLE "new_server_settings" RENAME TO "server_settings";
CREATE UNIQUE INDEX "server_settings_platform_server_id_key" ON "server_settings"("platform", "server_id");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

