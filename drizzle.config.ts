import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate --name <change>` writes the next SQL migration from workers/db/schema.ts.
export default defineConfig({
  dialect: "sqlite",
  schema: "./workers/db/schema.ts",
  out: "./migrations",
});
