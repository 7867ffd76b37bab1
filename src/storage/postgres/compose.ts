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

/** SIZE_SAMPLE_MS: how old the size /metrics reports may be (the gauge is synchronous; the query is not). */
const SIZE_SAMPLE_MS = 10_000;

/** pg_database_size, sampled in the background when asked for and older than SIZE_SAMPLE_MS. */
export function databaseSizeSampler(db: PgDb): () => number {
  let bytes = 0;
  let sampledAt = -Infinity;
  let sampling = false;
  return () => {
    if (!sampling && Date.now() - sampledAt >= SIZE_SAMPLE_MS) {
      sampling = true;
      sampledAt = Date.now();
      db.$client`SELECT pg_database_size(current_database()) AS bytes`
        .then(([row]: { bytes: string | number }[]) => (bytes = Number(row!.bytes)))
        .catch(() => {})
        .finally(() => (sampling = false));
    }
    return bytes;
  };
}

export async function composePostgres(config: Config, log: Logger): Promise<ComposedEngine & { pg: PgDb }> {
  const opened = await openPostgresStorage(config.databaseUrl);
  if (opened.migrated) log.info("database migrated", { database: redactUrl(config.databaseUrl), migrations: opened.migrated });
  const storage = postgresStorage(opened.db);
  const databaseSize = databaseSizeSampler(opened.db);
  return {
    engine: "postgres",
    pg: opened.db,
    storage,
    probe: postgresProbe(opened.db),
    storageChanges: alwaysChanged(),
    committer: pgWriterBackend(opened.db),
    isBusyFailure: isPgBusyFailure,
    webhookOutbox: new PgWebhookOutbox(opened.db),
    databaseSize,
    started() {
      databaseSize(); // the first scrape then has a figure
    },
    close: () => opened.close(),
  };
}
