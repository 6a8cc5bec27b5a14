-- AlterTable
ALTER TABLE "server_settings" ADD COLUMN     "nsfw_filter" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "nsfw_threshold" DOUBLE PRECISION,
ADD COLUMN     "swap_allowed" BOOLEAN NOT NULL DEFAULT true;

