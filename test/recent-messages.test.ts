// The recent-messages window must answer exactly what the database would, whatever was appended,
// edited, reacted to, evicted or rewound in between: random operation sequences against a real SQLite file, with
// the database query as the oracle.
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Db } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { sqliteStorage } from "../src/db/stores";
import { encodeMessage, renderPage } from "../src/modules/messages/message-view";
import { RecentMessages } from "../src/modules/messages/recent";
import { encodeWithReactions, fetchMessages, toMessageView, type PageOptions } from "../src/modules/messages/service";
import type { Awaitable } from "../src/ports/stores";
import { propertyParams } from "./support/property";

/** SQLite's stores answer synchronously: the page path must not make a promise of it. */
function now<T>(value: Awaitable<T>): T {
  if (value instanceof Promise) throw new Error("expected a synchronous answer from SQLite");
  return value;
}
const page_ = (db: Db, id: string, options: PageOptions) => now(fetchMessages(sqliteStorage(db), id, options));
const encoded = (db: Db, rows: Parameters<typeof encodeWithReactions>[1]) => now(encodeWithReactions(sqliteStorage(db), rows));

const dir = mkdtempSync(join(tmpdir(), "chat-recent-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let dbNo = 0;
function freshDb(conversations: number) {
  const db = openDatabase(join(dir, `t${dbNo++}.db`));
  runMigrations(db);
  const at = Date.now();
  const userId = Bun.randomUUIDv7();
  db.$client
    .query(
      "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, 'u', 'u', 'u@x.invalid', 'u@x.invalid', 'x', ?, ?)",
    )
    .run(userId, at, at);
  const ids = Array.from({ length: conversations }, () => Bun.randomUUIDv7());
  for (const id of ids) {
    db.$client
      .query("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES (?, 'c', 1, ?, 0, ?, ?, ?)")
      .run(id, userId, at, at, at);
  }
  return { db, userId, ids };
}

/** Appends like the writer does: rows, last_seq and rev in one transaction. */
function append(db: Db, conversationId: string, senderId: string, count: number) {
  db.$client.transaction(() => {
    for (let i = 0; i < count; i++) {
      const { last_seq, rev } = db.$client
        .query<{ last_seq: number; rev: number }, [string]>(
          "UPDATE conversations SET last_seq = last_seq + 1, rev = rev + 1 WHERE id = ? RETURNING last_seq, rev",
        )
        .get(conversationId)!;
      db.$client
        .query(
          "INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, rev, created_rev, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?7, ?8, ?9)",
        )
        .run(Bun.randomUUIDv7(), conversationId, last_seq, senderId, `m${last_seq} "quoted" \\ ✓ 😀`, last_seq % 3 ? null : `c${last_seq}`, rev, 1_700_000_000_000 + last_seq, 1_700_000_000_000 + last_seq);
    }
  })();
}

/** Changes one message like an edit, a delete or a reaction does: the conversation's next rev. */
function change(db: Db, conversationId: string, userId: string, at: number, kind: "edit" | "react" | "delete") {
  const n = lastSeqOf(db, conversationId);
  if (n === 0) return;
  const seq = Math.max(1, Math.round(at * n));
  db.$client.transaction(() => {
    const { rev } = db.$client
      .query<{ rev: number }, [string]>("UPDATE conversations SET rev = rev + 1 WHERE id = ? RETURNING rev")
      .get(conversationId)!;
    const row = db.$client
      .query<{ id: string }, [number, string, number]>("UPDATE messages SET rev = ? WHERE conversation_id = ? AND seq = ? RETURNING id")
      .get(rev, conversationId, seq)!;
    if (kind === "edit") db.$client.query("UPDATE messages SET content = 'edited ' || seq, edited_at = 1 WHERE id = ?").run(row.id);
    if (kind === "delete") db.$client.query("UPDATE messages SET content = '', deleted_at = 2 WHERE id = ?").run(row.id);
    if (kind === "react") {
      db.$client.query("INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)").run(row.id, userId, seq % 2 ? "👍" : ":tada:", rev);
    }
  })();
}

const lastSeqOf = (db: Db, id: string) =>
  db.$client.query<{ last_seq: number }, [string]>("SELECT last_seq FROM conversations WHERE id = ?").get(id)!.last_seq;
const revOf = (db: Db, id: string) => db.$client.query<{ rev: number }, [string]>("SELECT rev FROM conversations WHERE id = ?").get(id)!.rev;

const pageArb: fc.Arbitrary<(n: number) => PageOptions> = fc.oneof(
  fc.record({ limit: fc.integer({ min: 1, max: 100 }) }).map((p) => () => p),
  fc.record({ limit: fc.integer({ min: 1, max: 100 }), at: fc.double({ min: 0, max: 1.1, noNaN: true }) }).map(
    (p) => (n: number) => ({ limit: p.limit, before: Math.round(p.at * n) }),
  ),
  fc.record({ limit: fc.integer({ min: 1, max: 100 }), at: fc.double({ min: 0, max: 1.1, noNaN: true }) }).map(
    (p) => (n: number) => ({ limit: p.limit, after: Math.round(p.at * n) }),
  ),
);

type Op =
  | { kind: "append"; conversation: number; count: number }
  | { kind: "edit" | "react" | "delete"; conversation: number; at: number }
  | { kind: "page"; conversation: number; page: (n: number) => PageOptions }
  | { kind: "rewind"; conversation: number; keep: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("append" as const), conversation: fc.nat(2), count: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 90, max: 260 })) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constantFrom("edit" as const, "react" as const, "delete" as const), conversation: fc.nat(2), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("page" as const), conversation: fc.nat(2), page: pageArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rewind" as const), conversation: fc.nat(2), keep: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x) }) },
);

test("every page the window answers equals the database's, across appends, evictions and a rewound database", () => {
  let answered = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.boolean(), (ops, tinyBudget) => {
      const { db, userId, ids } = freshDb(3);
      // A tiny budget keeps at most one window, so eviction and refills happen all the time.
      const recent = new RecentMessages(sqliteStorage(db).stores.messages, tinyBudget ? 1 : 32 * 1024 * 1024);
      try {
        for (const op of ops) {
          const id = ids[op.conversation]!;
          if (op.kind === "append") append(db, id, userId, op.count);
          else if (op.kind === "edit" || op.kind === "react" || op.kind === "delete") change(db, id, userId, op.at, op.kind);
          else if (op.kind === "rewind") {
            // A restored backup: history cut back, last_seq lower than the window has seen.
            const keep = Math.floor(op.keep * lastSeqOf(db, id));
            db.$client.query("DELETE FROM messages WHERE conversation_id = ? AND seq > ?").run(id, keep);
            db.$client.query("UPDATE conversations SET last_seq = ?, rev = rev + 1 WHERE id = ?").run(keep, id);
          } else if (op.kind === "page") {
            const n = lastSeqOf(db, id);
            const page = op.page(n);
            const got = recent.page(id, { rev: revOf(db, id), lastSeq: n }, page);
            const expected = encoded(db, page_(db, id, page));
            if (got !== null) {
              answered++;
              expect(got).toEqual(expected);
            }
            // The latest page is always answered from the window once it is loaded.
            if (page.before === undefined && page.after === undefined) expect(got).not.toBeNull();
          }
        }
        expect(tinyBudget ? recent.cachedConversations : 0).toBeLessThanOrEqual(1);
      } finally {
        db.$client.close();
      }
    }),
    propertyParams("recent-messages window", { numRuns: Number(process.env.RECENT_RUNS ?? 60) }),
  );
  expect(answered).toBeGreaterThan(0);
});

test("a rendered page is the same JSON as the message views, with is_read per reader", () => {
  const { db, userId, ids } = freshDb(1);
  append(db, ids[0]!, userId, 7);
  const rows = page_(db, ids[0]!, { limit: 50 });
  const isRead = (seq: number) => seq <= 4;
  change(db, ids[0]!, userId, 0.5, "react");
  change(db, ids[0]!, userId, 0.1, "edit");
  const reacted = page_(db, ids[0]!, { limit: 50 });
  const json = renderPage(encoded(db, reacted), (m) => isRead(m.seq), userId);
  const tallies = reacted.map((r) => (r.seq === 4 ? [{ emoji: ":tada:", userIds: [userId] }] : undefined));
  expect(JSON.parse(new TextDecoder().decode(json))).toEqual(reacted.map((r, i) => toMessageView(r, isRead(r.seq), tallies[i], userId)));
  expect(JSON.parse(new TextDecoder().decode(json))[3].reactions).toEqual([{ emoji: ":tada:", count: 1, me: true }]);
  expect(new TextDecoder().decode(renderPage([], () => true, userId))).toBe("[]");
  db.$client.close();
});
