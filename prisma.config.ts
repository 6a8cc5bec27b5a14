// Prisma CLI configuration. `engine: "js"` runs the schema engine as WebAssembly through a driver adapter:
// Prisma's native schema-engine binary is a download from a non-npm host, which fails offline (that is
// also why we stay on Prisma 6.19: Prisma 7's CLI needs that binary for every command, even `generate`).
// The CLI is only used by tools/db for `generate` and datamodel-to-datamodel `migrate diff`, neither of
// which touches a database, so an in-memory SQLite adapter serves both providers (a PostgreSQL adapter
// here would only keep a pool open for ~10 s after each command). The app migrates itself at start-up
// (src/templates/db/migrate.ts) and connects through its own adapters (src/templates/db/client.ts).
import { defineConfig } from "prisma/config";
import { PrismaLibSQL } from "@prisma/adapter-libsql";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  async adapter() {
    return new PrismaLibSQL({ url: ":memory:" });
  },
});
