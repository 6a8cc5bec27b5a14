-- CreateTable
CREATE TABLE "forgotten_users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "platform" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "at_ms" BIGINT NOT NULL,
    "template_mark" INTEGER NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "forgotten_users_platform_platform_user_id_key" ON "forgotten_users"("platform", "platform_user_id");

