// The conversation-state cache on PostgreSQL (storage/postgres/stores/conversation-states.ts) over
// a real database: a hit is a value, a miss one head query, concurrent misses share it, notes and
// invalidations keep it exact, and another instance's read cursor is seen once the entry is old.
import { describe, expect, test } from "bun:test";
import type { ConversationHead, MessageStore } from "../../src/ports/stores";
import { followRemoteChanges } from "../../src/realtime/redis-caches";
import { PgConversationStates } from "../../src/storage/postgres/stores/conversation-states";
import { openPostgresStores } from "../../src/storage/postgres/stores";
import { postgresMissing } from "../support/postgres";
import { newUser } from "../support/stores";
import { pgDatabases } from "./helpers";

const database = pgDatabases();

/** A group of two over a fresh database, and the MessageStore's head counted. */
async function setup() {
  const { db, connect } = await database();
  const stores = openPostgresStores(db);
  const [a, b, c] = [newUser(), newUser(), newUser()];
  for (const u of [a, b, c]) await stores.users.insert(u);
  const id = Bun.randomUUIDv7();
  await stores.conversations.create({ id, name: "g", isGroup: true, createdBy: a.id, directKey: null, lastActivityAt: 1, createdAt: 1, updatedAt: 1 }, [
    { userId: a.id, role: "owner" },
    { userId: b.id, role: "member" },
  ]);
  const counted = { reads: 0 };
  const head: Pick<MessageStore, "head"> = {
    head: (conversationId) => {
      counted.reads++;
      return stores.messages.head(conversationId);
    },
  };
  return { db, connect, stores, head, counted, id, a, b, c };
}

/** A head read that waits for `release`, to hold a miss open. */
function heldHead(store: Pick<MessageStore, "head">) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { head: { head: async (id: string) => (await gate, store.head(id)) as Promise<ConversationHead | null> }, release };
}

describe.skipIf(postgresMissing !== null)("PostgreSQL conversation-state cache", () => {
  test("a miss is one query (shared by concurrent misses); a hit is a value; an unknown conversation is null and not kept", async () => {
    const { head, counted, id, a, b } = await setup();
    const states = new PgConversationStates(head);
    const misses = [states.get(id), states.get(id), states.readState(id, a.id)];
    expect(misses.every((m) => m instanceof Promise)).toBe(true);
    const [first, second, read] = await Promise.all(misses);
    expect(counted.reads).toBe(1);
    expect(first).toBe(second);
    expect(first).toMatchObject({ isGroup: true, lastSeq: 0, rev: 0 });
    expect(read).toEqual({ mine: 0, othersMin: 0, lastSeq: 0, rev: 0 });
    const hit = states.get(id);
    expect(hit).not.toBeInstanceOf(Promise);
    expect([...(hit as ConversationHead).cursors.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(states.readState(id, Bun.randomUUIDv7())).toBeNull();
    expect(counted.reads).toBe(1);
    const unknown = Bun.randomUUIDv7();
    expect(await states.get(unknown)).toBeNull();
    expect(await states.get(unknown)).toBeNull();
    expect(counted.reads).toBe(3);
  });

  test("notes move a kept entry forward only; invalidate re-reads the members on next use", async () => {
    const { stores, head, counted, id, a, b, c } = await setup();
    const states = new PgConversationStates(head);
    await states.get(id);
    states.noteStored(id, 3, 4);
    states.noteStored(id, 2, 2);
    states.noteRev(id, 6);
    states.noteRev(id, 5);
    states.noteRead(id, a.id, 2);
    states.noteRead(id, a.id, 1);
    states.noteRead(id, c.id, 9);
    expect(states.readState(id, b.id)).toEqual({ mine: 0, othersMin: 2, lastSeq: 3, rev: 6 });
    await stores.conversations.addMembers(id, [c.id], 2);
    expect(states.readState(id, c.id)).toBeNull();
    states.invalidate(id);
    const reread = states.readState(id, c.id);
    expect(reread).toBeInstanceOf(Promise);
    expect(await reread).toEqual({ mine: 0, othersMin: 0, lastSeq: 0, rev: 0 });
    expect(counted.reads).toBe(2);
  });

  test("a note that arrives during a miss is applied to what it returns; an invalidation during a miss keeps its result out", async () => {
    const { stores, id, a, c } = await setup();
    const held = heldHead(stores.messages);
    const states = new PgConversationStates(held.head);
    const pending = states.get(id);
    // A commit of this instance (or one from the bus) lands while the head is being read.
    states.noteStored(id, 1, 1);
    states.noteRead(id, a.id, 1);
    held.release();
    expect(await pending).toMatchObject({ lastSeq: 1, rev: 1 });
    expect(states.readState(id, a.id)).toMatchObject({ mine: 1, lastSeq: 1 });

    const again = heldHead(stores.messages);
    const later = new PgConversationStates(again.head);
    const stale = later.get(id);
    await stores.conversations.addMembers(id, [c.id], 3);
    later.invalidate(id);
    const fresh = later.get(id);
    expect(fresh).not.toBe(stale);
    again.release();
    await stale;
    expect((await fresh)!.cursors.has(c.id)).toBe(true);
    expect((later.get(id) as ConversationHead).cursors.has(c.id)).toBe(true);
  });

  test("a failed read is not kept: its callers get the error, the next use reads again", async () => {
    const { stores, id } = await setup();
    let fail = true;
    const states = new PgConversationStates({ head: (conversationId) => (fail ? Promise.reject(new Error("connection lost")) : stores.messages.head(conversationId)) });
    const [one, two] = [states.get(id), states.get(id)];
    expect(one).toBe(two);
    await expect(one).rejects.toThrow("connection lost");
    fail = false;
    expect(await states.get(id)).toMatchObject({ lastSeq: 0 });
    expect(states.get(id)).not.toBeInstanceOf(Promise);
  });

  test("another instance's read cursor is seen once the entry is older than maxAgeMs", async () => {
    const { connect, head, counted, id, a, b } = await setup();
    let clock = 0;
    const states = new PgConversationStates(head, { maxAgeMs: 1000, now: () => clock });
    await states.get(id);
    // Another instance marks b's read; no bus event carries read cursors.
    const other = openPostgresStores(connect(1));
    await other.conversations.revise(id, { at: 1 }, () => true);
    await other.messages.markRead(id, b.id, 1, 5);
    clock = 999;
    expect(states.readState(id, a.id)).toEqual({ mine: 0, othersMin: 0, lastSeq: 0, rev: 0 });
    clock = 1000;
    expect(await states.readState(id, a.id)).toEqual({ mine: 0, othersMin: 1, lastSeq: 0, rev: 1 });
    expect(counted.reads).toBe(2);
  });

  test("another instance's commits reach it through the bus's remote changes (realtime/redis-caches.ts)", async () => {
    const { connect, head, counted, id, c } = await setup();
    const states = new PgConversationStates(head);
    const follow = followRemoteChanges(states);
    await states.get(id);
    await addedByAnotherInstance(connect, id, c.id);
    follow({ kind: "revision", conversationId: id, rev: 1 });
    follow({ kind: "members", conversationId: id });
    expect(await states.readState(id, c.id)).toEqual({ mine: 0, othersMin: 0, lastSeq: 0, rev: 1 });
    follow({ kind: "revision", conversationId: id, rev: 3, seq: 2 });
    expect(states.readState(id, c.id)).toEqual({ mine: 0, othersMin: 0, lastSeq: 2, rev: 3 });
    expect(counted.reads).toBe(2);
  });

  test("after a broker outage every entry is read again: changes of that time were never relayed", async () => {
    const { connect, head, counted, id, c } = await setup();
    const states = new PgConversationStates(head);
    const follow = followRemoteChanges(states);
    await states.get(id);
    // Another instance adds c while the broker is down: nothing reaches this instance.
    await addedByAnotherInstance(connect, id, c.id);
    expect(states.readState(id, c.id)).toBeNull();
    // A read in flight when the broker comes back must not put its (possibly stale) answer back.
    const inFlight = new PgConversationStates(head);
    const pending = inFlight.get(id);
    follow({ kind: "outage" });
    inFlight.clear();
    await pending;
    expect(await states.readState(id, c.id)).toEqual({ mine: 0, othersMin: 0, lastSeq: 0, rev: 1 });
    expect(inFlight.get(id)).toBeInstanceOf(Promise);
    expect(counted.reads).toBe(4);
  });
});

/** Another instance (its own pool) adds a member in one revision (rev 1). */
async function addedByAnotherInstance(connect: (max?: number) => Parameters<typeof openPostgresStores>[0], id: string, userId: string) {
  const other = openPostgresStores(connect(1));
  await other.conversations.revise(id, { at: 1 }, (tx) => tx.conversations.addMembers(id, [userId], 1));
}
