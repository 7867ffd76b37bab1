// Opening the PostgreSQL storage at start (--database-url): connect, refuse a database from a newer
// binary, apply pending migrations under the advisory lock. What server.ts calls instead of
// openDataDir when the URL is set; every failure is a ConfigError naming the URL (exit 2).
import { ConfigError } from "../../config";
import { checkConnection, openPostgres, redactUrl, type PgDb, type PgOptions } from "./client";
import { runPgMigrations } from "./migrate";

export type { PgDb } from "./client";
export { createPgCommitter, type PgCommitter } from "./message-commit";

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
