#!/usr/bin/env bun
// CLI entry: serve (default), migrate, version, --help.
import { ConfigError, loadConfig, settingsHelp } from "./config";
import { createLogger } from "./lib/logger";
import { openDataDir, startServer } from "./server";
import { VERSION } from "./version";

const HELP = `chat-server ${VERSION}: self-hosted real-time chat backend

Usage: chat-server [command] [flags]

Commands:
  serve              Run the server (default)
  migrate            Apply pending database migrations and exit
  version            Print the version

Flags (each also read from the environment variable shown):
${settingsHelp()}
  --help, -h                   Show this help
  --version, -v                Print the version
`;

async function main(argv: string[]) {
  if (argv.includes("--help") || argv.includes("-h")) return void process.stdout.write(HELP);
  if (argv.includes("--version") || argv.includes("-v") || argv[0] === "version") return void console.log(VERSION);
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "serve";
  const flags = argv[0] === command ? argv.slice(1) : argv;
  const config = loadConfig(flags);
  const log = createLogger(config.logLevel, config.logFormat);
  switch (command) {
    case "serve": {
      const running = await startServer(config, log);
      const shutdown = (signal: string) => {
        log.info("shutting down", { signal });
        const force = setTimeout(() => process.exit(1), 5000);
        running.stop().then(() => {
          clearTimeout(force);
          process.exit(0);
        });
      };
      process.on("SIGTERM", () => shutdown("SIGTERM"));
      process.on("SIGINT", () => shutdown("SIGINT"));
      return;
    }
    case "migrate": {
      const db = openDataDir(config, log);
      db.$client.close();
      console.log("database is up to date");
      return;
    }
    default:
      throw new ConfigError(`unknown command "${command}" (see --help)`);
  }
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof ConfigError) {
    console.error(`chat-server: ${error.message}`);
    process.exit(2);
  }
  console.error("chat-server: failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
