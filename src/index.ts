#!/usr/bin/env bun
// CLI entry: dispatches to one file per subcommand in src/cli/ (serve is the default).
import { backupCommand } from "./cli/backup";
import type { Command } from "./cli/command";
import { healthcheckCommand } from "./cli/healthcheck";
import { migrateCommand } from "./cli/migrate";
import { restoreCommand } from "./cli/restore";
import { serveCommand } from "./cli/serve";
import { tokenCommand } from "./cli/token";
import { userCommand } from "./cli/user";
import { versionCommand } from "./cli/version";
import { webhookCommand } from "./cli/webhook";
import { ConfigError, settingsHelp } from "./config";
import { ApiError } from "./errors";
import { VERSION } from "./version";

const commands: Command[] = [serveCommand, migrateCommand, backupCommand, restoreCommand, userCommand, tokenCommand, webhookCommand, healthcheckCommand, versionCommand];

const HELP = `chat-server ${VERSION}: self-hosted real-time chat backend

Usage: chat-server [command] [flags]

Commands:
${commands.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`).join("\n")}

Run chat-server <command> --help for a command's own flags.

Flags of serve (each also read from the environment variable shown):
${settingsHelp()}
  --help, -h                   Show this help
  --version, -v                Print the version
`;

async function main(argv: string[]) {
  const first = argv[0];
  if (first === "--help" || first === "-h" || first === "help") return void process.stdout.write(HELP);
  if (first === "--version" || first === "-v") return void console.log(VERSION);
  const name = first && !first.startsWith("-") ? first : "serve";
  const command = commands.find((c) => c.name === name);
  if (!command) throw new ConfigError(`unknown command "${name}" (see --help)`);
  const args = first === name ? argv.slice(1) : argv;
  if (!command.group && (args.includes("--help") || args.includes("-h"))) return void process.stdout.write(command.help());
  await command.run(args);
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof ConfigError) {
    console.error(`chat-server: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof ApiError) {
    console.error(`chat-server: ${error.detail}`);
    process.exit(1);
  }
  console.error("chat-server: failed:", error instanceof Error ? error.message : error);
  process.exit(1);
});
