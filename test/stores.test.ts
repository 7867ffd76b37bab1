// The storage ports on SQLite: the adapter-independent bodies (test/support/stores.ts), then what
// only SQLite's caches do.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { sqliteStorage } from "../src/db/stores";
import { describeStores, newUser, type NewMessage } from "./support/stores";

const dir = mkdtempSync(join(tmpdir(), "chat-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbNo = 0;
const openSqlite = () => {
  const db = openDatabase(join(dir, `s${dbNo++}.db`));
  runMigrations(db);
  return {
    db,
    storage: sqliteStorage(db),
    insertMessage(m: NewMessage) {
      const rev = m.rev ?? 0;
      db.$client
        .query(
          `INSERT INTO messages (id, conversation_id, seq, sender_id, content, deleted_at, rev, created_rev, reply_to_id, mentions, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)`,
        )
        .run(m.id, m.conversationId, m.seq, m.senderId, m.content, m.deleted ? 1 : null, rev, rev, m.replyToId ?? null, m.mentions?.length ? JSON.stringify(m.mentions) : null);
      db.$client.query("UPDATE conversations SET last_seq = max(last_seq, ?), rev = max(rev, ?) WHERE id = ?").run(m.seq, rev, m.conversationId);
    },
    close: () => db.$client.close(),
  };
};

describeStores("sqlite", openSqlite);

describe("sqlite caches", () => {
  test("another connection's commit empties the caches; this connection's own writes do not", async () => {
    const { db, storage, close } = openSqlite();
    const row = newUser();
    storage.stores.users.insert(row);
    storage.caches.users.set(row.id, row);
    storage.caches.blockers.set(row.id, new Set());
    // Our own write: the services drop what they change themselves.
    storage.stores.users.touchLastSeen(row.id, 1);
    await Bun.sleep(5);
    expect(storage.caches.users.get(row.id)).toBe(row);
    // Another process (the CLI, sqlite3) disables the user.
    const other = openDatabase(db.$client.filename);
    other.$client.run("UPDATE users SET disabled_at = 1 WHERE id = ?", [row.id]);
    other.$client.close();
    await Bun.sleep(5); // data_version is re-read at most once a millisecond
    expect(storage.caches.users.get(row.id)).toBeUndefined();
    expect(storage.caches.blockers.get(row.id)).toBeUndefined();
    close();
  });
});
