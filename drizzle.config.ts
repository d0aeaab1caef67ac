import { defineConfig } from "drizzle-kit";

/**
 * drizzle-kit settings: `bunx drizzle-kit generate` writes SQL migrations from src/db/schema.ts
 * into drizzle/; `bun run db:migrate` applies them (src/db/migrate.ts).
 */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
