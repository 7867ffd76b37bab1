// Opening the PostgreSQL storage at start (--database-url): connect, refuse a database from a newer
// binary, apply pending migrations under the advisory lock. What server.ts calls instead of
// openDataDir when the URL is set; every failure is a ConfigError naming the URL (exit 2).
import { ConfigError } from "../../config";
import type { CommitResult, MessageCommitter, SendRequest } from "../../ports/message-commit";
import { checkConnection, openPostgres, redactUrl, type PgDb, type PgOptions } from "./client";
import { createPgCommitter, pgFailureOf } from "./message-commit";
import { runPgMigrations } from "./migrate";

export type { PgDb } from "./client";
export { createPgCommitter, isPgBusyFailure, isPgConnectionFailure, pgFailureOf, type PgCommitter } from "./message-commit";

export interface PgStorage {
  db: PgDb;
  /** Migrations this start applied (0 on every start but the first after an upgrade). */
  migrated: number;
  close(): Promise<void>;
}

export async function openPostgresStorage(url: string, options: PgOptions = {}): Promise<PgStorage> {
  const db = openPostgres(url, options);
  try {
    await checkConnection(db, url);
    let migrated: number;
    try {
      migrated = await runPgMigrations(db, `the PostgreSQL database ${redactUrl(url)}`);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot migrate the PostgreSQL database ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { db, migrated, close: () => db.$client.close() };
  } catch (error) {
    await db.$client.close();
    throw error;
  }
}

/**
 * The group commit as the MessageCommitter port (ports/message-commit.ts, the writer's `committer`), so the writer's batching, acks and busy retries run unchanged over PostgreSQL.
 */
export function pgWriterBackend(db: PgDb): MessageCommitter {
  const commit = createPgCommitter(db);
  return {
    commit(requests: SendRequest[], at: number, done: (result: CommitResult) => void): void {
      commit(requests, at).then(done, (error) => {
        const failure = pgFailureOf(error);
        done({ busy: false, failed: failure, outcomes: requests.map(() => ({ error: failure })) });
      });
    },
    // Connections belong to the storage (PgStorage.close), shared with every other query.
    close: async () => {},
  };
}
