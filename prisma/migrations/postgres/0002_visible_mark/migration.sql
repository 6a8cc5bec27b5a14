-- AlterTable
ALTER TABLE "server_settings" ADD COLUMN     "visible_mark" BOOLEAN NOT NULL DEFAULT false;

