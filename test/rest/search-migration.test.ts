// The search migration indexes the history that existed before it: a database just before it with messages
// (one of them deleted) is searchable after the upgrade, and the index agrees with the table.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { embeddedMigrationMeta, runMigrations } from "../../src/db/migrate";
import { embeddedMigrations } from "../../src/db/migrations.generated";

const dir = mkdtempSync(join(tmpdir(), "chat-search-migration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("upgrading a database from before search builds the search index over its existing messages", () => {
  const db = openDatabase(join(dir, "chat.db"));
  const searchAt = embeddedMigrations.findIndex((m) => m.tag.endsWith("_message_search"));
  const before = embeddedMigrationMeta().slice(0, searchAt); // everything before search
  (db as any).dialect.migrate(before, (db as any).session, {});
  const sql = db.$client;
  expect(() => sql.query("SELECT 1 FROM messages_fts").get()).toThrow();
  sql.run("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES ('u', 'u', 'u', 'u@x', 'u@x', '!', 1, 1)");
  sql.run("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES ('c', 'g', 1, 'u', 3, 1, 1, 1)");
  const insert = sql.query("INSERT INTO messages (id, conversation_id, seq, sender_id, content, deleted_at, created_at, updated_at) VALUES (?, 'c', ?, 'u', ?, ?, 1, 1)");
  insert.run("m1", 1, "Ancient Café history", null);
  insert.run("m2", 2, "", 5);
  insert.run("m3", 3, "more ancient words", null);

  expect(runMigrations(db)).toBe(embeddedMigrations.length - searchAt); // search and every later one
  const match = (q: string) =>
    sql.query<{ id: string }, [string]>("SELECT m.id FROM messages_fts f JOIN messages m ON m.rowid = f.rowid WHERE messages_fts MATCH ? ORDER BY f.rowid").all(q).map((r) => r.id);
  expect(match('"ancient"')).toEqual(["m1", "m3"]);
  expect(match('"cafe"')).toEqual(["m1"]);
  sql.run("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)");
  // And the triggers are in place for what comes next.
  insert.run("m4", 4, "ancient again", null);
  expect(match('"ancient"')).toEqual(["m1", "m3", "m4"]);
  db.$client.close();
});
