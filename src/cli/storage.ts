// The stores for one administrative command: the data directory's SQLite (opened and migrated
// through db/) or, with --database-url, PostgreSQL (migrated under its advisory lock); closed when
// the command is done, whatever it threw. A running server sees the change as any other writer's.
import type { Config } from "../config";
import { openDataDir } from "../db/data-dir";
import { sqliteStorage } from "../db/stores";
import type { Storage } from "../ports/stores";
import { openPostgresStorage } from "../storage/postgres";
import { postgresStorage } from "../storage/postgres/stores";

type StorageConfig = Parameters<typeof openDataDir>[0] & Partial<Pick<Config, "databaseUrl">>;

export async function withStorage<T>(config: StorageConfig, work: (storage: Storage) => T | Promise<T>): Promise<T> {
  if (config.databaseUrl) {
    const pg = await openPostgresStorage(config.databaseUrl, { max: 2 });
    try {
      return await work(postgresStorage(pg.db));
    } finally {
      await pg.close();
    }
  }
  const db = openDataDir(config);
  try {
    return await work(sqliteStorage(db));
  } finally {
    db.$client.close();
  }
}
