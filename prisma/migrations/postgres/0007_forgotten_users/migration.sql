-- CreateTable
CREATE TABLE "forgotten_users" (
    "id" SERIAL NOT NULL,
    "platform" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "at_ms" BIGINT NOT NULL,
    "template_mark" INTEGER NOT NULL,

    CONSTRAINT "forgotten_users_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "forgotten_users_platform_platform_user_id_key" ON "forgotten_users"("platform", "platform_user_id");

