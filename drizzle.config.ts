import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate --name <change>` writes the next SQL migration from shared/db/schema.ts.
export default defineConfig({
  dialect: "sqlite",
  schema: "./shared/db/schema.ts",
  out: "./migrations",
});
