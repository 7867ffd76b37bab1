// The one change path, tested with a fake bus: a committed send, read or new conversation enters
// the change feed once, after its commit (and after the sender's ack), and the feed publishes it
// once and hands it to consumers. No socket or server involved: services over a real SQLite file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { createChangeFeed } from "../src/modules/changes/feed";
import { sqliteStorage } from "../src/db/stores";
import { isBusyFailure, sqliteMessageCommitter } from "../src/db/writer-thread";
import { createConversation } from "../src/modules/conversations/service";
import { prepareSend } from "../src/modules/messages/send";
import { markRead } from "../src/modules/messages/service";
import { createMessageWriter } from "../src/modules/messages/writer";
import type { Hub } from "../src/ports/bus";
import type { Change } from "../src/ports/changes";

/** No member has an open socket: nothing is rendered for anyone. */
const offline = { isOnline: () => false };

const dir = mkdtempSync(join(tmpdir(), "chat-feed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  const db = openDatabase(join(dir, `${Bun.randomUUIDv7()}.db`));
  runMigrations(db);
  const log: string[] = [];
  const bus: Hub = {
    publish: (topic, event) => log.push(`publish ${topic} ${(event as { type: string }).type}`),
    joinConversation: (id, users) => log.push(`join conversation:${id} ${users.length}`),
    leaveConversation: () => log.push("leave"),
    isOnline: () => false,
    endSessions: () => log.push("end"),
  };
  const s = sqliteStorage(db);
  const feed = createChangeFeed(s.caches.conversationStates, bus, { warn: (m) => log.push(`warn ${m}`) });
  const consumed: Change[] = [];
  feed.consume((c) => consumed.push(c));
  const at = Date.now();
  const users = ["alice", "bob"].map((name) => {
    const id = Bun.randomUUIDv7();
    db.$client
      .query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'x', ?, ?)")
      .run(id, name, name, `${name}@x.invalid`, `${name}@x.invalid`, at, at);
    return id;
  });
  return { db, s, feed, log, consumed, users: users as [string, string] };
}

test("a new conversation enters the feed once: members' sockets join its topic", async () => {
  const { db, s, feed, log, consumed, users } = setup();
  const { row } = await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "g" });
  expect(log).toEqual([`join conversation:${row.id} 2`]);
  expect(consumed.map((c) => c.type)).toEqual(["conversation_created"]);
});

test("a send is acked after its commit, then published once and consumed once; a repeat publishes nothing", async () => {
  const { db, s, feed, log, consumed, users } = setup();
  const { row } = await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "g" });
  log.length = 0;
  consumed.length = 0;
  const writer = createMessageWriter(s.stores.messages, feed, { committer: sqliteMessageCommitter(db), isBusyFailure });
  const request = await prepareSend(s, feed, offline, users[0], { conversationId: row.id, content: "hi", clientMsgId: "k1" });
  const acked = await new Promise<string[]>((resolve, reject) =>
    writer.submit(request, (error) => (error ? reject(error) : resolve([...log]))),
  );
  expect(acked).toEqual([]); // the ack comes before the event
  expect(log).toEqual([`publish conversation:${row.id} new_message`]);
  expect(consumed).toHaveLength(1);
  expect(consumed[0]).toMatchObject({ type: "message_created", message: { seq: 1, content: "hi", conversation_id: row.id } });
  const repeat = await writer.send(await prepareSend(s, feed, offline, users[0], { conversationId: row.id, content: "hi", clientMsgId: "k1" }));
  expect(repeat.created).toBe(false);
  expect(log).toHaveLength(1);
  expect(consumed).toHaveLength(1);
  await writer.close();
});

test("a read cursor that moves is one read_moved change; one that does not move is none", async () => {
  const { db, s, feed, log, consumed, users } = setup();
  const { row } = await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "g" });
  const writer = createMessageWriter(s.stores.messages, feed, { committer: sqliteMessageCommitter(db), isBusyFailure });
  const sent = await writer.send(await prepareSend(s, feed, offline, users[0], { conversationId: row.id, content: "hi" }));
  log.length = 0;
  consumed.length = 0;
  await markRead(s, feed, users[1], sent.message.id);
  await markRead(s, feed, users[1], sent.message.id);
  expect(log).toEqual([`publish conversation:${row.id} message_read`]);
  expect(consumed).toEqual([
    expect.objectContaining({ type: "read_moved", receipt: expect.objectContaining({ user_id: users[1], last_read_seq: 1 }) }),
  ]);
  await writer.close();
});

test("a consumer that throws is logged; the event is out and later consumers still run", async () => {
  const { db, s, feed, log, consumed, users } = setup();
  feed.consume(() => {
    throw new Error("boom");
  });
  const after: string[] = [];
  feed.consume((c) => after.push(c.type));
  await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "g" });
  expect(log.some((l) => l.startsWith("join "))).toBe(true);
  expect(log).toContain("warn change consumer failed");
  expect(consumed).toHaveLength(1);
  expect(after).toEqual(["conversation_created"]);
});

test("a change still being read holds back its conversation's later events, not other conversations'", async () => {
  const { db, s, feed, log, consumed, users } = setup();
  const { row } = await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "g" });
  const other = (await createConversation(s, feed, offline, users[0], { participant_ids: [users[1]], is_group: true, name: "h" })).row;
  const writer = createMessageWriter(s.stores.messages, feed, { committer: sqliteMessageCommitter(db), isBusyFailure });
  const sent = await writer.send(await prepareSend(s, feed, offline, users[0], { conversationId: row.id, content: "hi" }));
  const record = s.stores.messages.byId(sent.message.id)!;
  await writer.close();
  log.length = 0;
  consumed.length = 0;
  const created = (conversationId: string, seq: number): Change => ({ type: "message_created", message: { ...sent.message, conversation_id: conversationId, seq }, at: 0 });
  let readDone!: (tallies: []) => void;
  // As PostgreSQL reports an edit: the reactions are still being read when the change is reported.
  feed.committed({ type: "message_updated", record, reactions: new Promise((resolve) => (readDone = resolve)), at: 0 });
  feed.committed(created(row.id, 2));
  feed.committed(created(other.id, 1));
  expect(log).toEqual([`publish conversation:${other.id} new_message`]);
  readDone([]);
  await Bun.sleep(0);
  expect(log).toEqual([
    `publish conversation:${other.id} new_message`,
    `publish conversation:${row.id} message_updated`,
    `publish conversation:${row.id} new_message`,
  ]);
  expect(consumed.map((c) => c.type)).toEqual(["message_created", "message_updated", "message_created"]);
  // A pending change settles once its event is out; the caller can answer after it.
  let membersRead!: (change: Change) => void;
  const out = feed.committedPending(row.id, new Promise<Change>((resolve) => (membersRead = resolve)));
  expect(out).toBeInstanceOf(Promise);
  membersRead({
    type: "conversation_created",
    conversationId: row.id,
    memberIds: [users[1]],
    viewFor: () => {
      throw new Error("no member is online: no view is rendered");
    },
    at: 0,
  });
  await out;
  expect(log.slice(3)).toEqual([`join conversation:${row.id} 1`]);
  // One that fails to read is logged; the conversation's events flow again.
  await feed.committedPending(row.id, Promise.reject(new Error("read failed")));
  feed.committed(created(row.id, 3));
  expect(log.slice(4)).toEqual(["warn change event failed", `publish conversation:${row.id} new_message`]);
});
