// The stores of the data directory for one administrative command: opened (and migrated) through
// db/, closed when the command is done, whatever it threw.
import { openDataDir } from "../db/data-dir";
import { sqliteStorage } from "../db/stores";
import type { Storage } from "../ports/stores";

export async function withStorage<T>(config: Parameters<typeof openDataDir>[0], work: (storage: Storage) => T | Promise<T>): Promise<T> {
  const db = openDataDir(config);
  try {
    return await work(sqliteStorage(db));
  } finally {
    db.$client.close();
  }
}
