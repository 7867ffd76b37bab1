// The PostgreSQL group commit against a real server, from several connections at once (as several
// instances would): seq and rev gap-free per conversation, one message per client_msg_id, batches
// over the same conversations in opposite orders never deadlock, replies and attachments as SQLite.
import { describe, expect, test } from "bun:test";
import type { CommitResult, SendRequest } from "../../src/ports/message-commit";
import { pgWriterBackend } from "../../src/storage/postgres";
import { createPgCommitter } from "../../src/storage/postgres/message-commit";
import { openPostgresStores } from "../../src/storage/postgres/stores";
import { postgresMissing } from "../support/postgres";
import { pgDatabases, seedConversation, seedUsers } from "./helpers";

const database = pgDatabases();

const send = (conversationId: string, senderId: string, content: string, extra: Partial<SendRequest> = {}): SendRequest => ({
  conversationId,
  senderId,
  recipientId: null,
  content,
  clientMsgId: null,
  ...extra,
});

function outcomesOf(result: CommitResult) {
  if (result.busy) throw new Error("busy");
  return result.outcomes;
}

describe.skipIf(postgresMissing !== null)("PostgreSQL group commit", () => {
  test("concurrent batches from four connections to one conversation number it 1..N with no gap, and revs 1..N", async () => {
    const { db, connect } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const committers = Array.from({ length: 4 }, () => createPgCommitter(connect(2)));
    const results = await Promise.all(
      committers.map(async (commit, w) => {
        const records = [];
        for (let b = 0; b < 8; b++) {
          const batch = Array.from({ length: 5 }, (_, i) => send(conv, alice!, `w${w} b${b} m${i}`));
          for (const o of outcomesOf(await commit(batch, Date.now()))) {
            if ("error" in o) throw new Error(o.error.message);
            records.push(o.record);
          }
        }
        return records;
      }),
    );
    const n = 4 * 8 * 5;
    const acked = results.flat();
    expect(acked.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(acked.map((r) => r.rev).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const stored = await db.$client`SELECT id, seq, rev FROM messages WHERE conversation_id = ${conv} ORDER BY seq`;
    expect(stored.map((r: { seq: number }) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Map(stored.map((r: { id: string; seq: number; rev: number }) => [r.id, [r.seq, r.rev]]))).toEqual(new Map(acked.map((r) => [r.id, [r.seq, r.rev]])));
    const [head] = await db.$client`SELECT last_seq, rev FROM conversations WHERE id = ${conv}`;
    expect(head).toEqual({ last_seq: n, rev: n });
  });

  test("one client_msg_id committed from two connections at once stores one message; both get it, no seq is spent", async () => {
    const { db, connect } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const a = createPgCommitter(connect(1));
    const b = createPgCommitter(connect(1));
    for (let i = 0; i < 10; i++) {
      const request = send(conv, alice!, `hello ${i}`, { clientMsgId: `k${i}` });
      const [ra, rb] = await Promise.all([a([request], Date.now()), b([request], Date.now())]);
      const [oa] = outcomesOf(ra);
      const [ob] = outcomesOf(rb);
      if (!oa || !ob || "error" in oa || "error" in ob) throw new Error(`failed: ${JSON.stringify([oa, ob])}`);
      expect([oa.created, ob.created].sort()).toEqual([false, true]);
      // The retry's record is the stored one (with its attachments, "[]"), the same message.
      const { attachments: _a, ...stored } = oa.record;
      const { attachments: _b, ...again } = ob.record;
      expect(again).toEqual(stored);
      expect(oa.record.seq).toBe(i + 1);
    }
    // The same id twice in one batch: the second gets the first.
    const [first, second] = outcomesOf(await a([send(conv, alice!, "x", { clientMsgId: "same" }), send(conv, alice!, "x", { clientMsgId: "same" })], Date.now()));
    expect(first).toMatchObject({ created: true, record: { seq: 11 } });
    expect(second).toMatchObject({ created: false, record: { seq: 11 } });
    const [count] = await db.$client`SELECT count(*)::int AS n, max(seq) AS top FROM messages WHERE conversation_id = ${conv}`;
    expect(count).toEqual({ n: 11, top: 11 });
    const [head] = await db.$client`SELECT last_seq, rev FROM conversations WHERE id = ${conv}`;
    expect(head).toEqual({ last_seq: 11, rev: 11 });
  });

  test("batches over two conversations in opposite orders, at once, never deadlock: every send commits, both stay gap-free", async () => {
    const { db, connect } = await database();
    const [alice] = await seedUsers(db, "alice");
    const c1 = await seedConversation(db, "c1", alice!);
    const c2 = await seedConversation(db, "c2", alice!);
    const forward = createPgCommitter(connect(1));
    const backward = createPgCommitter(connect(1));
    const run = async (commit: typeof forward, order: string[]) => {
      let created = 0;
      for (let round = 0; round < 15; round++) {
        const result = await commit(order.flatMap((c) => [send(c, alice!, `${c} ${round} a`), send(c, alice!, `${c} ${round} b`)]), Date.now());
        if (result.busy) throw new Error("busy (a deadlock victim)");
        for (const o of result.outcomes) {
          if ("error" in o) throw new Error(o.error.message);
          created++;
        }
      }
      return created;
    };
    expect(await Promise.all([run(forward, [c1, c2]), run(backward, [c2, c1])])).toEqual([60, 60]);
    for (const c of [c1, c2]) {
      const rows = await db.$client`SELECT seq, rev FROM messages WHERE conversation_id = ${c} ORDER BY seq`;
      expect(rows.map((r: { seq: number }) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(rows.map((r: { rev: number }) => r.rev)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    }
  });

  test("a reply bumps its parent's reply_count with the reply's rev; a bad request fails alone and spends no seq", async () => {
    const { db } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const commit = createPgCommitter(db);
    const [parent] = outcomesOf(await commit([send(conv, alice!, "question")], 1_000));
    if (!parent || "error" in parent) throw new Error("parent failed");
    const outcomes = outcomesOf(
      await commit([send(conv, alice!, "answer", { replyToId: parent.record.id, mentions: [alice!] }), send("no-such-conversation", alice!, "lost"), send(conv, alice!, "after")], 2_000),
    );
    expect(outcomes[0]).toMatchObject({
      created: true,
      record: { seq: 2, rev: 2, reply_to_id: parent.record.id, mentions: JSON.stringify([alice]), created_at: 2_000 },
      parent: { id: parent.record.id, reply_count: 1, rev: 2, updated_at: 2_000, created_at: 1_000, attachments: "[]" },
    });
    expect(outcomes[1]).toEqual({ error: { code: "", message: "conversation vanished" } });
    expect(outcomes[2]).toMatchObject({ created: true, record: { seq: 3, rev: 3 } });
    // A reply to a deleted parent fails alone with the same message as on SQLite.
    await db.$client`UPDATE messages SET deleted_at = 3000 WHERE id = ${parent.record.id}`;
    const [gone] = outcomesOf(await commit([send(conv, alice!, "late", { replyToId: parent.record.id })], 3_000));
    expect(gone).toMatchObject({ error: { message: "reply_to_id: the message replied to no longer exists" } });
    const [head] = await db.$client`SELECT last_seq, rev, last_activity_at FROM conversations WHERE id = ${conv}`;
    expect(head).toEqual({ last_seq: 3, rev: 3, last_activity_at: "2000" });
  });

  test("a client_msg_id inserted by a writer that skipped the lock is still found: the send gets that message, its neighbour commits", async () => {
    const { db, connect } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const rogue = await connect(1).$client.reserve();
    try {
      await rogue`BEGIN`;
      await rogue`INSERT INTO messages (id, conversation_id, seq, sender_id, content, client_msg_id, rev, created_at, updated_at)
        VALUES ('rogue', ${conv}, 999, ${alice}, 'first', 'dup', 999, 1, 1)`;
      const commit = createPgCommitter(connect(1));
      const pending = commit([send(conv, alice!, "retry", { clientMsgId: "dup" }), send(conv, alice!, "neighbour")], 2);
      // The batch's INSERT waits on the rogue row's uncommitted unique key before the rogue commits.
      while ((await db.$client`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO messages%'`)[0].n === 0) await Bun.sleep(10);
      await rogue`COMMIT`;
      const [retried, neighbour] = outcomesOf(await pending);
      expect(retried).toMatchObject({ created: false, record: { id: "rogue", seq: 999 } });
      expect(neighbour).toMatchObject({ created: true, record: { seq: 1, rev: 1 } });
      const [head] = await db.$client`SELECT last_seq, rev FROM conversations WHERE id = ${conv}`;
      expect(head).toEqual({ last_seq: 1, rev: 1 });
    } finally {
      rogue.release();
    }
  });

  test("a send with U+0000 is stored without it (PostgreSQL text cannot hold one): the ack is what the store reads back, a retry finds it", async () => {
    const { db } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const commit = createPgCommitter(db);
    const nul = send(conv, alice!, "null \u0000 byte\u0000", { clientMsgId: "k\u00001" });
    const [acked] = outcomesOf(await commit([nul, send(conv, alice!, "plain")], 1));
    if (!acked || "error" in acked) throw new Error("the send failed");
    expect(acked.record).toMatchObject({ seq: 1, content: "null  byte", client_msg_id: "k1" });
    const stores = openPostgresStores(db);
    expect(await stores.messages.byId(acked.record.id)).toEqual({ ...acked.record, attachments: "[]" });
    expect((await stores.messages.page(conv, { limit: 10 })).map((m) => m.content)).toEqual(["null  byte", "plain"]);
    const [retry] = outcomesOf(await commit([nul], 2));
    expect(retry).toMatchObject({ created: false, record: { id: acked.record.id, seq: 1 } });
    // An edit through the store loses it the same way.
    const edited = await stores.conversations.revise(conv, { at: 3 }, (tx, rev) => tx.messages.edit(acked.record.id, "e\u0000dit", null, rev, 3));
    expect(edited).toMatchObject({ result: { content: "edit" } });
  });

  test("attachments are claimed once, by their owner, and rendered like SQLite's JSON; another's upload fails the send alone", async () => {
    const { db } = await database();
    const [alice, bob] = await seedUsers(db, "alice", "bob");
    const conv = await seedConversation(db, "c1", alice!);
    await db.$client`INSERT INTO attachments (id, owner_id, sha256, size, content_type, filename, width, height, created_at)
      VALUES ('a1', ${alice}, 'aa', 12, 'image/png', 'p.png', 2, 3, 1700000000123), ('a2', ${alice}, 'bb', 5, 'text/plain', 't.txt', NULL, NULL, 1700000000000),
             ('b1', ${bob}, 'cc', 7, 'text/plain', 'b.txt', NULL, NULL, 1700000000000)`;
    const commit = createPgCommitter(db);
    const outcomes = outcomesOf(await commit([send(conv, alice!, "files", { attachmentIds: ["a2", "a1"] }), send(conv, alice!, "not mine", { attachmentIds: ["b1"] })], 5_000));
    const first = outcomes[0];
    if (!first || "error" in first) throw new Error("send with attachments failed");
    expect(JSON.parse(first.record.attachments!)).toEqual([
      { id: "a2", filename: "t.txt", content_type: "text/plain", size: 5, sha256: "bb", created_at: "2023-11-14T22:13:20.000Z" },
      { id: "a1", filename: "p.png", content_type: "image/png", size: 12, sha256: "aa", width: 2, height: 3, created_at: "2023-11-14T22:13:20.123Z" },
    ]);
    expect(outcomes[1]).toMatchObject({ error: { code: "ATTACHMENT_CLAIM_FAILED" } });
    const claimed = await db.$client`SELECT id, claimed_at FROM attachments ORDER BY id`;
    expect(claimed).toEqual([{ id: "a1", claimed_at: "5000" }, { id: "a2", claimed_at: "5000" }, { id: "b1", claimed_at: null }]);
    // A retry of the same client_msg_id returns the attachments too.
    const [again] = outcomesOf(await commit([send(conv, alice!, "files", { clientMsgId: "f" })], 6_000));
    expect(again).toMatchObject({ created: true, record: { seq: 2 } });
  });
});

describe.skipIf(postgresMissing !== null)("the writer backend over PostgreSQL", () => {
  test("commits through the callback the message writer expects, one outcome per request", async () => {
    const { db } = await database();
    const [alice] = await seedUsers(db, "alice");
    const conv = await seedConversation(db, "c1", alice!);
    const backend = pgWriterBackend(db);
    const result = await new Promise<CommitResult>((resolve) => backend.commit([send(conv, alice!, "a"), send(conv, alice!, "b")], 7, resolve));
    expect(result).toMatchObject({ busy: false, outcomes: [{ created: true, record: { seq: 1, content: "a" } }, { created: true, record: { seq: 2, content: "b" } }] });
    await backend.close();
  });
});
