// Prisma CLI configuration. `engine: "js"` runs the schema engine as WebAssembly through a driver adapter:
// Prisma's native schema-engine binary is a download from a non-npm host, which fails offline (that is
// also why we stay on Prisma 6.19: Prisma 7's CLI needs that binary for every command, even `generate`).
// The CLI is only used by tools/db (generate, migrate diff); the app migrates itself (src/templates/db/migrate.ts).
// tools/db sets MIMIC_CLI_PROVIDER / MIMIC_CLI_DATABASE_URL when it drives the CLI for PostgreSQL.
import { defineConfig } from "prisma/config";
import { PrismaLibSQL } from "@prisma/adapter-libsql";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  async adapter() {
    const url = process.env.MIMIC_CLI_DATABASE_URL;
    if (process.env.MIMIC_CLI_PROVIDER === "postgresql") {
      return new PrismaPg({ connectionString: url ?? "postgresql://postgres@127.0.0.1:5432/postgres" });
    }
    return new PrismaLibSQL({ url: url ?? ":memory:" });
  },
});
