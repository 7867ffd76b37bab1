// MessageStore through its interface only (ports/stores.ts), for any adapter: called by
// describeStores (test/support/stores.ts) with the same fresh-storage opener.
import { describe, expect, test } from "bun:test";
import { andThen, NO_CHANGE, type Awaitable, type MessageRecord } from "../../src/ports/stores";
import type { Opened } from "./stores";
import { newUser } from "./stores";

export function describeMessageStore(name: string, openFresh: () => Promise<Opened>) {
  /** A group of `a` (owner) and `b` with messages 1..n from alternating senders, each at rev = seq. */
  const group = async (n: number, extra: (seq: number, a: { id: string }) => { replyToId?: string; mentions?: string[]; deleted?: boolean } = () => ({})) => {
    const o = await openFresh();
    const { stores } = o.storage;
    const [a, b] = [newUser(), newUser()];
    for (const u of [a, b]) await stores.users.insert(u);
    const c = { id: Bun.randomUUIDv7(), name: "g", isGroup: true, createdBy: a.id, directKey: null, lastActivityAt: 1, createdAt: 1, updatedAt: 1 };
    await stores.conversations.create(c, [
      { userId: a.id, role: "owner" },
      { userId: b.id, role: "member" },
    ]);
    const ids: string[] = [];
    for (let seq = 1; seq <= n; seq++) {
      const id = Bun.randomUUIDv7();
      ids.push(id);
      await o.insertMessage({ id, conversationId: c.id, seq, rev: seq, senderId: seq % 2 ? a.id : b.id, content: `m${seq}`, ...extra(seq, a) });
    }
    return { o, stores, a, b, c, ids };
  };
  const seqs = (rows: MessageRecord[]) => rows.map((r) => r.seq);
  /** A write inside a revision, NO_CHANGE when it found nothing (synchronous where the adapter is: SQLite's revise needs it). */
  const orNone = (written: Awaitable<MessageRecord | null>) => andThen(written, (r) => r ?? NO_CHANGE);

  describe(`${name}: MessageStore`, () => {
    test("pages by seq (latest, before, after), by id, by ids, replies and the reply target", async () => {
      const { stores, c, ids, a } = await group(6);
      const m = stores.messages;
      expect(seqs(await m.page(c.id, { limit: 2 }))).toEqual([5, 6]);
      expect(seqs(await m.page(c.id, { before: 5, limit: 2 }))).toEqual([3, 4]);
      expect(seqs(await m.page(c.id, { after: 4, limit: 10 }))).toEqual([5, 6]);
      expect(seqs(await m.page(c.id, { before: 1, limit: 10 }))).toEqual([]);
      const first = (await m.byId(ids[0]!))!;
      expect(first).toMatchObject({ id: ids[0], conversation_id: c.id, seq: 1, sender_id: a.id, content: "m1", rev: 1, deleted_at: null, reply_count: 0 });
      expect(first.attachments ?? "[]").toBe("[]");
      expect(await m.byId(Bun.randomUUIDv7())).toBeNull();
      expect(seqs((await m.byIds([ids[2]!, ids[0]!, Bun.randomUUIDv7()])).sort((x, y) => x.seq - y.seq))).toEqual([1, 3]);
      expect(await m.byIds([])).toEqual([]);
      expect(await m.replyTarget(ids[1]!)).toEqual({ conversationId: c.id, deleted: false });
      expect(await m.replyTarget(Bun.randomUUIDv7())).toBeNull();
    });

    test("replies page by seq under their parent", async () => {
      const { o, stores, c, a, ids } = await group(2);
      for (const seq of [3, 4, 5]) {
        await o.insertMessage({ id: Bun.randomUUIDv7(), conversationId: c.id, seq, rev: seq, senderId: a.id, content: `r${seq}`, replyToId: seq === 4 ? ids[1]! : ids[0]! });
      }
      expect(seqs(await stores.messages.replies(ids[0]!, { limit: 10 }))).toEqual([3, 5]);
      expect(seqs(await stores.messages.replies(ids[0]!, { limit: 1 }))).toEqual([5]);
      expect(seqs(await stores.messages.replies(ids[0]!, { after: 3, limit: 10 }))).toEqual([5]);
      expect(seqs(await stores.messages.replies(ids[0]!, { before: 5, limit: 10 }))).toEqual([3]);
    });

    test("edits and tombstones take a revision; changed-since returns created and changed messages in rev order", async () => {
      const { stores, c, ids, a } = await group(5);
      const edited = await stores.conversations.revise(c.id, { at: 50 }, (tx, rev) => orNone(tx.messages.edit(ids[1]!, "new", JSON.stringify([a.id]), rev, 50)));
      expect(edited).toMatchObject({ rev: 6, result: { seq: 2, content: "new", rev: 6, edited_at: 50, mentions: JSON.stringify([a.id]) } });
      expect(seqs(await stores.messages.changedSince(c.id, 5, 10))).toEqual([2]);
      expect(seqs(await stores.messages.changedSince(c.id, 3, 10))).toEqual([4, 5, 2]);
      expect(seqs(await stores.messages.changedSince(c.id, 0, 2))).toEqual([1, 3]);
      await stores.conversations.revise(c.id, { at: 60 }, (tx, rev) => andThen(tx.messages.addReaction(ids[2]!, a.id, "👍", 60, 20), () => orNone(tx.messages.touch(ids[2]!, rev, 60))));
      const gone = await stores.conversations.revise(c.id, { at: 70 }, (tx, rev) => orNone(tx.messages.tombstone(ids[2]!, rev, 70)));
      expect(gone).toMatchObject({ rev: 8, result: { seq: 3, content: "", mentions: null, deleted_at: 70, rev: 8 } });
      expect((await stores.messages.reactions([ids[2]!])).get(ids[2]!)).toBeUndefined();
      // A tombstone is not edited, touched or deleted again: nothing to stamp, no rev spent.
      expect(await stores.conversations.revise(c.id, { at: 80 }, (tx, rev) => orNone(tx.messages.tombstone(ids[2]!, rev, 80)))).toBeNull();
      expect(await stores.conversations.revise(c.id, { at: 80 }, (tx, rev) => orNone(tx.messages.edit(ids[2]!, "x", null, rev, 80)))).toBeNull();
      expect(await stores.conversations.revise(c.id, { at: 80 }, (tx, rev) => orNone(tx.messages.touch(ids[2]!, rev, 80)))).toBeNull();
      expect(seqs(await stores.messages.changedSince(c.id, 6, 10))).toEqual([3]);
      expect((await stores.messages.replyTarget(ids[2]!))?.deleted).toBe(true);
    });

    test("reactions: each emoji once per user, in first-reaction order, capped in distinct emoji", async () => {
      const { stores, ids, a, b } = await group(2);
      const m = stores.messages;
      const [one, two] = ids as [string, string];
      expect(await m.addReaction(one, a.id, "👍", 1, 2)).toBe("added");
      expect(await m.addReaction(one, a.id, "👍", 2, 2)).toBe("exists");
      expect(await m.addReaction(one, b.id, ":tada:", 3, 2)).toBe("added");
      expect(await m.addReaction(one, b.id, "👍", 4, 2)).toBe("added");
      expect(await m.addReaction(one, a.id, "🎉", 5, 2)).toBe("full");
      expect(await m.addReaction(two, a.id, "🎉", 5, 2)).toBe("added");
      const tallies = await m.reactions([one, two, Bun.randomUUIDv7()]);
      expect(tallies.get(one)).toEqual([
        { emoji: "👍", userIds: [a.id, b.id] },
        { emoji: ":tada:", userIds: [b.id] },
      ]);
      expect(tallies.get(two)).toEqual([{ emoji: "🎉", userIds: [a.id] }]);
      expect(tallies.size).toBe(2);
      // Reactions at the same moment: emoji, then users, in byte order.
      const [first, second] = [a.id, b.id].sort() as [string, string];
      for (const [user, emoji] of [[second, "b"], [first, "b"], [first, "B"]] as const) expect(await m.addReaction(two, user, emoji, 7, 5)).toBe("added");
      expect((await m.reactions([two])).get(two)).toEqual([
        { emoji: "🎉", userIds: [a.id] },
        { emoji: "B", userIds: [first] },
        { emoji: "b", userIds: [first, second] },
      ]);
      expect(await m.removeReaction(one, b.id, ":tada:")).toBe(true);
      expect(await m.removeReaction(one, b.id, ":tada:")).toBe(false);
      expect((await m.reactions([one])).get(one)).toEqual([{ emoji: "👍", userIds: [a.id, b.id] }]);
    });

    test("head, read and delivered cursors move forward only; unread counts others' live messages and mentions", async () => {
      const { stores, c, a, b } = await group(6, (seq, a) => (seq === 4 ? { mentions: [a.id] } : seq === 6 ? { deleted: true, mentions: [a.id] } : {}));
      const m = stores.messages;
      const head = (await m.head(c.id))!;
      expect([head.isGroup, head.lastSeq, head.rev]).toEqual([true, 6, 6]);
      expect([...head.cursors.entries()].sort()).toEqual([[a.id, 0], [b.id, 0]].sort() as [string, number][]);
      expect(await m.head(Bun.randomUUIDv7())).toBeNull();
      // a's unread: b's messages 2 and 4 (6 is deleted); 4 mentions a.
      expect(await m.unread(a.id, 1)).toEqual([{ conversation_id: c.id, unread_count: 2, mention_count: 1, muted: false }]);
      expect(await m.unread(a.id, 1, [])).toEqual([]);
      expect(await m.markRead(c.id, a.id, 3, 100)).toEqual({ lastReadSeq: 3, lastReadAt: 100, moved: true });
      expect(await m.markRead(c.id, a.id, 2, 200)).toEqual({ lastReadSeq: 3, lastReadAt: 100, moved: false });
      expect(await m.markRead(c.id, Bun.randomUUIDv7(), 2, 200)).toBeNull();
      expect(await m.readCursors(c.id, a.id)).toEqual({ mine: 3, othersMin: 0 });
      expect(await m.readCursors(c.id, b.id)).toEqual({ mine: 0, othersMin: 3 });
      expect(await m.readCursors(c.id, Bun.randomUUIDv7())).toBeNull();
      expect(await m.unread(a.id, 1)).toEqual([{ conversation_id: c.id, unread_count: 1, mention_count: 1, muted: false }]);
      const batch = [
        { conversationId: c.id, userId: a.id, seq: 2 },
        { conversationId: c.id, userId: b.id, seq: 5 },
      ];
      expect(await m.markDelivered(batch)).toEqual([batch[1]!]);
      expect(await m.cursors(c.id)).toEqual([
        { user_id: a.id, last_read_seq: 3, last_delivered_seq: 3 },
        { user_id: b.id, last_read_seq: 0, last_delivered_seq: 5 },
      ]);
      expect(await m.membersByUsernameKey(c.id, [b.usernameKey, "nobody"])).toEqual([{ id: b.id, key: b.usernameKey }]);
      expect(await m.membersByUsernameKey(c.id, [])).toEqual([]);
    });

    test("changed-since agrees with a scan of every message, at every rev and page size", async () => {
      const { stores, c, ids } = await group(20);
      for (const seq of [3, 15, 7]) await stores.conversations.revise(c.id, { at: 90 }, (tx, rev) => orNone(tx.messages.edit(ids[seq - 1]!, "e", null, rev, 90)));
      await stores.conversations.revise(c.id, { at: 95 }, (tx, rev) => orNone(tx.messages.tombstone(ids[6]!, rev, 95)));
      const all = await stores.messages.page(c.id, { after: 0, limit: 100 });
      const byRevThenSeq = (x: MessageRecord, y: MessageRecord) => x.rev - y.rev || x.seq - y.seq;
      for (let since = 0; since <= 25; since++) {
        for (const limit of [1, 3, 100]) {
          const expected = all.filter((m) => m.rev > since).sort(byRevThenSeq).slice(0, limit);
          expect(seqs(await stores.messages.changedSince(c.id, since, limit)), `since ${since}, limit ${limit}`).toEqual(seqs(expected));
        }
      }
      expect(await stores.messages.changedSince(Bun.randomUUIDv7(), 0, 10)).toEqual([]);
    });

    test("delivered cursors: a member named twice in one batch moves in batch order", async () => {
      const { stores, c, a, b } = await group(5);
      const batch = [
        { conversationId: c.id, userId: a.id, seq: 2 },
        { conversationId: c.id, userId: a.id, seq: 4 },
        { conversationId: c.id, userId: a.id, seq: 3 },
        { conversationId: c.id, userId: b.id, seq: 1 },
        { conversationId: c.id, userId: Bun.randomUUIDv7(), seq: 1 },
      ];
      expect(await stores.messages.markDelivered(batch)).toEqual([batch[0]!, batch[1]!, batch[3]!]);
      expect(await stores.messages.markDelivered([])).toEqual([]);
      expect((await stores.messages.cursors(c.id)).map((r) => r.last_delivered_seq)).toEqual([4, 1]);
    });

    test("unread: a muted member still gets counts and mentions; a mute that has run out is not muted", async () => {
      const { stores, c, a } = await group(4, (seq, a) => (seq === 2 ? { mentions: [a.id] } : {}));
      await stores.conversations.updateSettings(c.id, a.id, { muted: true, mutedUntil: 1000 });
      expect(await stores.messages.unread(a.id, 999, [c.id])).toEqual([{ conversation_id: c.id, unread_count: 2, mention_count: 1, muted: true }]);
      expect(await stores.messages.unread(a.id, 1000)).toEqual([{ conversation_id: c.id, unread_count: 2, mention_count: 1, muted: false }]);
      await stores.conversations.updateSettings(c.id, a.id, { mutedUntil: null });
      expect((await stores.messages.unread(a.id, 5000))[0]!.muted).toBe(true);
      expect(await stores.messages.unread(a.id, 1, [Bun.randomUUIDv7()])).toEqual([]);
    });
  });
}
