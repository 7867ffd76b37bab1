// `serve` (the default command): runs the server until SIGTERM/SIGINT, which drain and stop it.
// SIGHUP never kills it: settings come from flags and the environment, which cannot change under
// a running process, and logs go to stderr (journald, docker), so there is nothing to reopen.
import { createLogger } from "../lib/logger";
import { startServer } from "../server";
import { defineCommand } from "./command";

/** Exit code when the open database's file system was replaced under the server (EX_TEMPFAIL). */
export const STORAGE_LOST_EXIT = 75;

export const serveCommand = defineCommand(
  {
    name: "serve",
    summary: "Run the HTTP API, the WebSocket endpoint, the web client, /docs and /metrics (the default command).",
    description: "SIGTERM or SIGINT drain and stop it (sockets get 1001, queued messages are written, the WAL is checkpointed). SIGHUP is logged with a status line and ignored.",
    settings: "all",
  },
  async ({ config }) => {
    const log = createLogger(config.logLevel, config.logFormat);
    const running = await startServer(config, log);
    let stopping = false;
    const shutdown = (signal: string, exitCode = 0) => {
      if (stopping) return;
      stopping = true;
      log.info("shutting down", { signal });
      const force = setTimeout(() => process.exit(exitCode || 1), 5000);
      running.stop().then(
        () => {
          clearTimeout(force);
          process.exit(exitCode);
        },
        (error) => {
          log.error("shutdown failed", { error: String(error) });
          process.exit(1);
        },
      );
    };
    // Files opened on a file system that was since repaired and mounted again cannot be written:
    // exit 75 (EX_TEMPFAIL) so a supervisor starts a server on the repaired one.
    running.storageLost.then((detail) => {
      log.error(`storage lost, exiting with code ${STORAGE_LOST_EXIT} for a restart: ${detail}`);
      shutdown("storage lost", STORAGE_LOST_EXIT);
    });
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGHUP", () => {
      const memory = process.memoryUsage();
      log.info("SIGHUP received: nothing to reload (settings come from flags and the environment; logs go to stderr)", {
        open_sockets: running.hub.openSockets,
        pending_writes: running.writer.pending,
        rss_bytes: memory.rss,
      });
    });
  },
);
