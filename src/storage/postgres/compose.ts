// The PostgreSQL engine for the composition root (--database-url): connect and migrate under the
// advisory lock (index.ts), the stores and caches (stores/), a probe that pings the server, the
// group commit as the writer's committer. No checkpointer and no writer thread: PostgreSQL does
// both. --data-dir still holds the attachments' files, the lock and the logs (server.ts).
import type { Config } from "../../config";
import type { Logger } from "../../lib/logger";
import type { ComposedEngine } from "../../ports/engine";
import type { StorageChanges, StorageProbe } from "../../ports/storage-probe";
import { redactUrl, type PgDb } from "./client";
import { isPgBusyFailure, openPostgresStorage, pgWriterBackend } from "./index";
import { postgresStorage } from "./stores";
import { PgWebhookOutbox } from "./stores/webhook-outbox";

/** SELECT 1 proves the server answers; txid_current() makes the transaction write its commit record (fails on a read-only standby). */
export function postgresProbe(db: PgDb): StorageProbe {
  return {
    async ping() {
      await db.$client`SELECT 1`;
    },
    async probeWrite(): Promise<"ok"> {
      await db.$client.begin(async (tx) => {
        await tx`SELECT txid_current()`;
      });
      return "ok";
    },
  };
}

/**
 * Other instances and the CLI commit without telling this one, and PostgreSQL has no cheap
 * "someone else committed" counter: every check counts as a change, so the session watch
 * (realtime/sessions.ts) re-reads the connected users' access once per interval.
 */
export function alwaysChanged(): StorageChanges {
  let version = 0;
  return { version: () => ++version };
}

export async function composePostgres(config: Config, log: Logger): Promise<ComposedEngine & { pg: PgDb }> {
  const opened = await openPostgresStorage(config.databaseUrl);
  if (opened.migrated) log.info("database migrated", { database: redactUrl(config.databaseUrl), migrations: opened.migrated });
  const storage = postgresStorage(opened.db);
  return {
    engine: "postgres",
    pg: opened.db,
    storage,
    probe: postgresProbe(opened.db),
    storageChanges: alwaysChanged(),
    committer: pgWriterBackend(opened.db),
    isBusyFailure: isPgBusyFailure,
    webhookOutbox: new PgWebhookOutbox(opened.db),
    started() {},
    close: () => opened.close(),
  };
}
