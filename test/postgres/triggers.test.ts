// The hand-written SQL of drizzle-pg/0001: the webhook outbox triggers write the same rows, with
// the same payloads, as SQLite's triggers (drizzle/0006) for the same changes; the tsvector search
// index matches words and prefixes, folds diacritics like FTS5, and never matches a deleted message.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/client";
import { runMigrations } from "../../src/db/migrate";
import { parseQuery } from "../../src/modules/search/query";
import { toTsQueryText } from "../../src/storage/postgres/search";
import { postgresMissing } from "../support/postgres";
import { pgDatabases } from "./helpers";

const database = pgDatabases();

const ALL_EVENTS = ",message.created,message.updated,message.deleted,reaction.changed,member.added,member.removed,conversation.updated,user.created,";
// Portable SQL (TRUE/FALSE literals, no parameters) run on both databases in this order.
const CHANGES = [
  `INSERT INTO webhooks (id, url, events, conversation_id, secret, created_at) VALUES ('h1', 'http://a', '${ALL_EVENTS}', NULL, 's', 1), ('h2', 'http://b', ',message.created,member.added,', 'c2', 's', 1)`,
  `INSERT INTO users (id, username, username_key, email, email_key, password_hash, full_name, created_at, updated_at) VALUES ('u1', 'Alice', 'alice', 'a@x', 'a@x', 'x', 'Alice A', 1700000000000, 1700000000000)`,
  `INSERT INTO conversations (id, name, is_group, created_by, last_activity_at, created_at, updated_at) VALUES ('c1', 'one', TRUE, 'u1', 1, 1, 1), ('c2', 'two', TRUE, 'u1', 1, 1, 1)`,
  `INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ('c1', 'u1', 'owner', 1700000000001), ('c2', 'u1', 'owner', 1700000000001)`,
  `INSERT INTO messages (id, conversation_id, seq, sender_id, content, client_msg_id, rev, created_at, updated_at) VALUES ('m1', 'c1', 1, 'u1', 'hello', 'k1', 1, 1700000000002, 1700000000002)`,
  `INSERT INTO messages (id, conversation_id, seq, sender_id, content, rev, created_at, updated_at) VALUES ('m2', 'c2', 1, 'u1', 'there', 1, 1700000000002, 1700000000002)`,
  `INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ('m1', 'u1', '👍', 1700000000003)`,
  `UPDATE messages SET content = 'hello!', edited_at = 1700000000004, rev = 3 WHERE id = 'm1'`,
  `UPDATE messages SET rev = 4, reply_count = 1 WHERE id = 'm1'`,
  `DELETE FROM reactions WHERE message_id = 'm1'`,
  `UPDATE conversations SET name = 'renamed', rev = 5, meta_rev = 5, updated_at = 1700000000005 WHERE id = 'c1'`,
  `UPDATE conversations SET rev = 6, last_seq = 1 WHERE id = 'c1'`,
  `UPDATE messages SET deleted_at = 1700000000006, content = '' WHERE id = 'm1'`,
  `DELETE FROM members WHERE conversation_id = 'c1' AND user_id = 'u1'`,
];

type OutboxRow = { hook_id: string; type: string; conversation_id: string | null; order_key: string; payload: string; next_attempt_at: number | string | null; status: string };
const OUTBOX = "SELECT hook_id, type, conversation_id, order_key, payload, next_attempt_at, status FROM webhook_outbox ORDER BY id";
const normalize = (rows: OutboxRow[]) =>
  rows.map((r) => ({ ...r, payload: JSON.parse(r.payload), next_attempt_at: r.next_attempt_at === null ? null : Number(r.next_attempt_at) }));

describe.skipIf(postgresMissing !== null)("PostgreSQL triggers and search index", () => {
  test("the webhook outbox gets the same rows and payloads as on SQLite, for every event type", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-triggers-"));
    const sqlite = openDatabase(join(dir, "chat.db"));
    try {
      runMigrations(sqlite);
      for (const statement of CHANGES) sqlite.$client.run(statement);
      const expected = normalize(sqlite.$client.query(OUTBOX).all() as OutboxRow[]);
      expect(expected.map((r) => `${r.hook_id} ${r.type}`)).toEqual([
        "h1 user.created", "h1 member.added", "h1 member.added", "h2 member.added", "h1 message.created", "h1 message.created",
        "h2 message.created", "h1 reaction.changed", "h1 message.updated", "h1 reaction.changed", "h1 conversation.updated",
        "h1 message.deleted", "h1 member.removed",
      ]);

      const { db } = await database();
      for (const statement of CHANGES) await db.$client.unsafe(statement);
      expect(normalize(await db.$client.unsafe(OUTBOX))).toEqual(expected);
    } finally {
      sqlite.$client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("with no hook registered nothing is written", async () => {
    const { db } = await database();
    for (const statement of CHANGES.slice(1)) await db.$client.unsafe(statement);
    expect(await db.$client.unsafe(OUTBOX)).toEqual([]);
  });

  test("search: words and prefixes match through the GIN-indexed tsvector, diacritics fold, deleted messages never match", async () => {
    const { db } = await database();
    for (const statement of CHANGES.slice(1, 4)) await db.$client.unsafe(statement);
    await db.$client.unsafe(`INSERT INTO messages (id, conversation_id, seq, sender_id, content, rev, created_at, updated_at, deleted_at) VALUES
      ('s1', 'c1', 1, 'u1', 'Hello wörld', 1, 1, 1, NULL), ('s2', 'c1', 2, 'u1', 'helicopter parts', 2, 1, 1, NULL),
      ('s3', 'c1', 3, 'u1', 'hello again', 3, 1, 1, 5), ('s4', 'c1', 4, 'u1', 'nothing here', 4, 1, 1, NULL)`);
    const find = async (query: string) =>
      (await db.$client`SELECT id FROM messages WHERE search_vector @@ to_tsquery('chat_search', ${query}) ORDER BY id`).map((r: { id: string }) => r.id);
    expect(await find("hel:*")).toEqual(["s1", "s2"]);
    expect(await find("hello")).toEqual(["s1"]);
    expect(await find("world")).toEqual(["s1"]);
    expect(await find("WÖRLD")).toEqual(["s1"]);
    // An edit re-indexes in the writing statement; an undelete indexes the text again.
    await db.$client`UPDATE messages SET content = 'goodbye world' WHERE id = 's1'`;
    await db.$client`UPDATE messages SET deleted_at = NULL WHERE id = 's3'`;
    expect(await find("hello")).toEqual(["s3"]);
    const [plan] = await db.$client.unsafe("SELECT indexdef FROM pg_indexes WHERE indexname = 'messages_search'");
    expect(plan.indexdef).toContain("USING gin (search_vector)");
  });
});

describe.skipIf(postgresMissing !== null)("PostgreSQL search queries from the search box's language", () => {
  test("words, prefixes and phrases match as on FTS5; operators typed by the user are plain text", async () => {
    const { db } = await database();
    for (const statement of CHANGES.slice(1, 4)) await db.$client.unsafe(statement);
    const texts = ["the <b>zebra</b> crossing is on Élm street", "hello there", "helicopter parts", "it's O'Neil & co | !fine", "unrelated"];
    for (const [i, content] of texts.entries()) {
      await db.$client`INSERT INTO messages (id, conversation_id, seq, sender_id, content, rev, created_at, updated_at) VALUES (${`t${i}`}, 'c1', ${i + 1}, 'u1', ${content}, ${i + 1}, 1, 1)`;
    }
    const find = async (q: string) =>
      (await db.$client`SELECT id FROM messages WHERE search_vector @@ to_tsquery('chat_search', ${toTsQueryText(parseQuery(q))}) ORDER BY id`).map((r: { id: string }) => r.id);
    expect(await find("ZEBRA elm")).toEqual(["t0"]);
    expect(await find("hel*")).toEqual(["t1", "t2"]);
    expect(await find('"zebra crossing"')).toEqual(["t0"]);
    expect(await find('"crossing zebra"')).toEqual([]);
    expect(await find('"zebra cro"*')).toEqual(["t0"]);
    expect(await find("o'neil")).toEqual(["t3"]);
    expect(await find("co | !fine & (it's)")).toEqual(["t3"]);
    expect(await find("zebra unrelated")).toEqual([]);
    expect(toTsQueryText(parseQuery("a\\b 'x'"))).toBe("('a' <-> 'b') & ('x')");
  });
});
