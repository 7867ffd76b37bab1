// "What changed after rev R" read without an index entry per new message (messages/changed-since.ts)
// must answer exactly what the plain `rev > R` query answers, for every R and page size, over random
// histories: legacy rows from before created_rev, appends (some replies that bump their parent in the
// same rev), edits/reactions/deletes that move an old message to a new rev.
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { createChangedSince } from "../src/db/stores/messages-changed-since";
import { propertyParams } from "./support/property";

const dir = mkdtempSync(join(tmpdir(), "chat-changed-since-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Op = { kind: "legacy" | "append" | "reply" | "change"; pick: number; count: number };
const op = fc.record({
  kind: fc.constantFrom<Op["kind"]>("legacy", "append", "append", "reply", "change", "change"),
  pick: fc.nat(1000),
  count: fc.integer({ min: 1, max: 5 }),
});

let dbNo = 0;
test("changed-since equals the plain rev query for every rev and page size", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const db = openDatabase(join(dir, `t${dbNo++}.db`));
      runMigrations(db);
      const sql = db.$client;
      const at = 1_700_000_000_000;
      sql.query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES ('u', 'u', 'u', 'u@x.invalid', 'u@x.invalid', 'x', ?, ?)").run(at, at);
      sql.query("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES ('c', 'c', 1, 'u', 0, ?, ?, ?)").run(at, at, at);
      const next = () => sql.query<{ last_seq: number; rev: number }, []>("UPDATE conversations SET last_seq = last_seq + 1, rev = rev + 1 WHERE id = 'c' RETURNING last_seq, rev").get()!;
      const bumpRev = () => sql.query<{ rev: number }, []>("UPDATE conversations SET rev = rev + 1 WHERE id = 'c' RETURNING rev").get()!.rev;
      const insert = (seq: number, rev: number, createdRev: number) =>
        sql.query("INSERT INTO messages (id, conversation_id, seq, sender_id, content, rev, created_rev, created_at, updated_at) VALUES (?, 'c', ?, 'u', 'x', ?, ?, ?, ?)").run(Bun.randomUUIDv7(), seq, rev, createdRev, at, at);
      const count = () => sql.query<{ n: number }, []>("SELECT count(*) AS n FROM messages").get()!.n;
      let sawNonLegacy = false;
      for (const o of ops) {
        if (o.kind === "legacy" && !sawNonLegacy) {
          // Written before created_rev existed: the column reads 0.
          for (let i = 0; i < o.count; i++) {
            const { last_seq, rev } = next();
            insert(last_seq, rev, 0);
          }
        } else if (o.kind === "append" || o.kind === "legacy") {
          sawNonLegacy = true;
          for (let i = 0; i < o.count; i++) {
            const { last_seq, rev } = next();
            insert(last_seq, rev, rev);
          }
        } else if (o.kind === "reply" && count() > 0) {
          sawNonLegacy = true;
          const { last_seq, rev } = next();
          insert(last_seq, rev, rev);
          sql.query("UPDATE messages SET rev = ? WHERE conversation_id = 'c' AND seq = ?").run(rev, 1 + (o.pick % (last_seq - 1 || 1)));
        } else if (o.kind === "change" && count() > 0) {
          const rev = bumpRev();
          sql.query("UPDATE messages SET rev = ? WHERE conversation_id = 'c' AND seq = ?").run(rev, 1 + (o.pick % count()));
        }
      }
      const changedSince = createChangedSince(sql);
      const top = sql.query<{ rev: number }, []>("SELECT rev FROM conversations WHERE id = 'c'").get()!.rev;
      const plain = sql.query<{ seq: number; rev: number }, [number, number]>("SELECT seq, rev FROM messages WHERE conversation_id = 'c' AND rev > ? ORDER BY rev, seq LIMIT ?");
      for (let since = 0; since <= top + 1; since++) {
        for (const limit of [1, 2, 3, 7, 1000]) {
          const got = changedSince("c", since, limit).map((m) => [m.seq, m.rev]);
          expect(got).toEqual(plain.all(since, limit).map((m) => [m.seq, m.rev]));
        }
      }
      db.$client.close();
    }),
    propertyParams("changed-since", { numRuns: 25 }),
  );
}, 60_000);

test("the changed-rev index is partial (changed messages only) and the changed-since query uses it", () => {
  const db = openDatabase(join(dir, "plan.db"));
  runMigrations(db);
  const plan = db.$client
    .query<{ detail: string }, []>("EXPLAIN QUERY PLAN SELECT seq FROM messages WHERE conversation_id = 'c' AND rev != created_rev AND rev > 3 ORDER BY rev")
    .all()
    .map((r) => r.detail)
    .join(" ");
  expect(plan).toContain("messages_changed_rev");
  const indexSql = db.$client.query<{ sql: string }, []>("SELECT sql FROM sqlite_master WHERE name = 'messages_changed_rev'").get()!.sql;
  expect(indexSql).toContain("WHERE rev != created_rev");
  db.$client.close();
});
