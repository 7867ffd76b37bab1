// `migrate`: checks the database (PRAGMA quick_check, whatever its size), refuses one migrated by a
// newer binary (exit 2), applies pending migrations (embedded in the binary) and exits. Safe while serving.
import { openDataDir } from "../db/data-dir";
import { createLogger } from "../lib/logger";
import { defineCommand } from "./command";

export const migrateCommand = defineCommand(
  {
    name: "migrate",
    summary: "Check the database, apply pending migrations and exit (serve also does this at start).",
    description: "Exits 2 when the database is damaged (PRAGMA quick_check) or was migrated by a newer chat-server.",
    settings: ["dataDir", "synchronous", "logLevel", "logFormat"],
  },
  ({ config }) => {
    const db = openDataDir(config, createLogger(config.logLevel, config.logFormat), { quickCheck: "always" });
    db.$client.close();
    console.log("database is up to date");
  },
);
