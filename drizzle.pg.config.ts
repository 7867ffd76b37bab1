// drizzle-kit for the PostgreSQL schema (issue 16): `bun run db:generate:pg`. SQLite's is drizzle.config.ts.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/storage/postgres/schema.ts",
  out: "./drizzle-pg",
});
