// The SQLite engine for the composition root: the database in --data-dir (quick check, migrations),
// its stores and caches, the probe, the watch of other processes' commits, the writer (inline or on
// its thread) and the checkpointer thread. server.ts calls this when --database-url is not set.
import { join } from "node:path";
import type { Config } from "../config";
import type { Logger } from "../lib/logger";
import type { ComposedEngine } from "../ports/engine";
import { startCheckpointer, walBacklog, type Checkpointer } from "./checkpointer";
import type { Db } from "./client";
import { DB_FILE, openDataDir } from "./data-dir";
import { externalChanges } from "./external-changes";
import { sqliteProbe } from "./probe";
import { sqliteStorage, type SqliteStorage } from "./stores";
import { SqliteWebhookOutbox } from "./stores/webhook-outbox";
import { isBusyFailure, sqliteMessageCommitter } from "./writer-thread";

const CHECKPOINTER_DELAY_MS = 100;

export function composeSqlite(config: Config, log: Logger): ComposedEngine & { db: Db; storage: SqliteStorage } {
  const path = join(config.dataDir, DB_FILE);
  const db = openDataDir(config, log, { quickCheck: "auto" });
  // Checkpoints run on their own thread; the event loop only checkpoints as a far-off fallback.
  // The thread starts just after the server is up: a second JS runtime booting beside the first
  // would slow the start on a small machine, and the WAL cannot need it that soon.
  db.$client.run("PRAGMA wal_autocheckpoint = 16384");
  let checkpointer: Checkpointer | null = null;
  let checkpointerTimer: ReturnType<typeof setTimeout> | null = null;
  return {
    engine: "sqlite",
    db,
    storage: sqliteStorage(db),
    probe: sqliteProbe(db),
    storageChanges: externalChanges(db),
    committer: sqliteMessageCommitter(db, { thread: config.writerThread, path, synchronous: config.synchronous, log }),
    isBusyFailure,
    walBacklog: () => walBacklog(path),
    watchedFile: path,
    databaseFile: path,
    webhookOutbox: new SqliteWebhookOutbox({ client: db.$client }),
    started() {
      checkpointerTimer = setTimeout(() => {
        checkpointer = startCheckpointer(path, {
          synchronous: config.synchronous,
          onError: (error) => log.warn("checkpoint failed", { error }),
          onRecovered: (error) => log.info("checkpoint recovered", { error }),
        });
      }, CHECKPOINTER_DELAY_MS);
      checkpointerTimer.unref();
    },
    async close() {
      if (checkpointerTimer) clearTimeout(checkpointerTimer);
      await checkpointer?.stop();
      try {
        db.$client.run("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch {}
      db.$client.close();
    },
  };
}
