-- AlterTable
ALTER TABLE "forgotten_users" DROP COLUMN "template_mark";

