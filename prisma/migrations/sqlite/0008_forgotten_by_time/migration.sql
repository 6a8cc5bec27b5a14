-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_forgotten_users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "platform" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "at_ms" BIGINT NOT NULL
);
INSERT INTO "new_forgotten_users" ("at_ms", "id", "platform", "platform_user_id") SELECT "at_ms", "id", "platform", "platform_user_id" FROM "forgotten_users";
DROP TABLE "forgotten_users";
ALTER TABLE "new_forgotten_users" RENAME TO "forgotten_users";
CREATE UNIQUE INDEX "forgotten_users_platform_platform_user_id_key" ON "forgotten_users"("platform", "platform_user_id");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

