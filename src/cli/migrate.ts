// `migrate`: applies pending migrations (embedded in the binary) and exits. Safe while serving.
import { openDataDir } from "../server";
import { createLogger } from "../lib/logger";
import { defineCommand } from "./command";

export const migrateCommand = defineCommand(
  {
    name: "migrate",
    summary: "Apply pending database migrations and exit (serve also does this at start).",
    settings: ["dataDir", "synchronous", "logLevel", "logFormat"],
  },
  ({ config }) => {
    const db = openDataDir(config, createLogger(config.logLevel, config.logFormat));
    db.$client.close();
    console.log("database is up to date");
  },
);
