// The send and page paths over the storage ports: on SQLite they answer without a promise (no
// extra microtask per message); over a store that answers later (a networked database, faked here
// by wrapping SQLite's answers in promises) the same calls give the same results as promises.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { sqliteStorage } from "../src/db/stores";
import { createConversation } from "../src/modules/conversations/service";
import { RecentMessages } from "../src/modules/messages/recent";
import { prepareSend } from "../src/modules/messages/send";
import { messagePageJson } from "../src/modules/messages/service";
import type { ChangeFeed } from "../src/ports/changes";
import type { SendRequest } from "../src/ports/message-commit";
import type { Caches, ConversationStateCache, Storage, Stores } from "../src/ports/stores";

/** No member has an open socket: nothing is rendered for anyone. */
const offline = { isOnline: () => false };

const dir = mkdtempSync(join(tmpdir(), "chat-send-path-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const feed: ChangeFeed = { committed: () => {}, committedPending: () => {}, consume: () => () => {} };

async function setup() {
  const db = openDatabase(join(dir, `${Bun.randomUUIDv7()}.db`));
  runMigrations(db);
  const at = Date.now();
  const [alice, bob] = ["alice", "bob"].map((name) => {
    const id = Bun.randomUUIDv7();
    db.$client
      .query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'x', ?, ?)")
      .run(id, name, name, `${name}@x.invalid`, `${name}@x.invalid`, at, at);
    return id;
  }) as [string, string];
  const sqlite = sqliteStorage(db);
  const { row } = await createConversation(sqlite, feed, offline, alice, { participant_ids: [bob], is_group: true, name: "g" });
  return { db, sqlite, alice, bob, conversationId: row.id };
}

/** Every store method and the conversation-state reads answer with a promise of SQLite's answer. */
function later(storage: Storage): Storage {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, key) {
        const value = Reflect.get(obj, key, obj);
        return typeof value === "function" ? (...args: unknown[]) => Promise.resolve(value.apply(obj, args)) : value;
      },
    });
  const stores = Object.fromEntries(Object.entries(storage.stores).map(([k, v]) => [k, wrap(v)])) as unknown as Stores;
  const states = storage.caches.conversationStates;
  const conversationStates: ConversationStateCache = {
    ...Object.fromEntries((["noteStored", "noteRev", "invalidate", "noteRead", "clear"] as const).map((k) => [k, states[k].bind(states)])),
    get: async (id) => states.get(id),
    readState: async (id, userId) => states.readState(id, userId),
  } as ConversationStateCache;
  const caches: Caches = { ...storage.caches, conversationStates };
  return { stores, caches };
}

test("on SQLite a send is prepared and a page rendered without a promise", async () => {
  const { sqlite, alice, bob, conversationId } = await setup();
  const request = prepareSend(sqlite, feed, offline, alice, { conversationId, content: "hi @bob", clientMsgId: "k1" });
  expect(request).not.toBeInstanceOf(Promise);
  expect(request).toMatchObject({ conversationId, senderId: alice, recipientId: null, content: "hi @bob", mentions: [bob], attachmentIds: [], replyToId: null });
  const caches = { ...sqlite.caches, recentMessages: new RecentMessages(sqlite.stores.messages) };
  const page = messagePageJson({ stores: sqlite.stores, caches }, alice, conversationId, { limit: 50 });
  expect(page).not.toBeInstanceOf(Promise);
  expect(new TextDecoder().decode(page as Uint8Array)).toBe("[]");
});

test("over a store that answers later, the same send and page come as promises with the same values", async () => {
  const { sqlite, alice, bob, conversationId } = await setup();
  const async = later(sqlite);
  const pending = prepareSend(async, feed, offline, alice, { conversationId, content: "hi @bob", clientMsgId: "k1" });
  expect(pending).toBeInstanceOf(Promise);
  expect(await pending).toEqual(prepareSend(sqlite, feed, offline, alice, { conversationId, content: "hi @bob", clientMsgId: "k1" }) as SendRequest);
  const page = messagePageJson({ stores: async.stores, caches: { ...async.caches, recentMessages: new RecentMessages(sqlite.stores.messages) } }, bob, conversationId, { limit: 50, before: 10 });
  expect(page).toBeInstanceOf(Promise);
  expect(new TextDecoder().decode(await page)).toBe("[]");
  // A non-member is refused the same way, as a rejected promise.
  const stranger = Bun.randomUUIDv7();
  await expect(Promise.resolve(prepareSend(async, feed, offline, stranger, { conversationId, content: "x" }))).rejects.toMatchObject({ status: 404 });
});
