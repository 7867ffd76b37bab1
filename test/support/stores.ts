// The storage ports, exercised through their interfaces only (ports/stores.ts), so the same bodies
// run against any adapter: `describeStores(name, open)` takes a function that gives a fresh, empty,
// migrated storage. test/stores.test.ts runs it on SQLite; a PostgreSQL adapter adds one call.
import { afterAll, describe, expect, test } from "bun:test";
import { describeMessageStore } from "./message-store-cases";
import { NO_CHANGE, type ConversationRow, type Storage, type UserRow } from "../../src/ports/stores";

export interface NewMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  content: string;
  deleted?: boolean;
  rev?: number;
  replyToId?: string;
  mentions?: string[];
}

export interface Opened {
  storage: Storage;
  /**
   * Writes a message as the group commit would (MessageCommitter writes batches; this is one row):
   * at `rev` (default 0), moving the conversation's last_seq and rev up to it.
   */
  insertMessage(message: NewMessage): void | Promise<void>;
  close(): void | Promise<void>;
}

let userNo = 0;
export function newUser(overrides: Partial<UserRow> = {}): UserRow {
  const n = ++userNo;
  const at = 1_700_000_000_000 + n;
  return {
    id: Bun.randomUUIDv7(),
    username: `User${n}`,
    usernameKey: `user${n}`,
    email: `User${n}@Example.test`,
    emailKey: `user${n}@example.test`,
    passwordHash: "$argon2id$not-a-real-hash",
    fullName: `Full Name ${n}`,
    fullNameKey: `full name ${n}`,
    avatarUrl: null,
    bio: null,
    tokenVersion: 0,
    lastSeenAt: null,
    disabledAt: null,
    isBot: false,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

/** `messages: false` leaves out the MessageStore cases (an adapter that has no MessageStore yet). */
export function describeStores(name: string, open: () => Opened | Promise<Opened>, options: { messages?: boolean } = {}) {
  const opened: Opened[] = [];
  const openFresh = async () => {
    const o = await open();
    opened.push(o);
    return o;
  };
  const fresh = async () => (await openFresh()).storage;
  afterAll(async () => {
    for (const o of opened) await o.close();
  });

  describe(`${name}: UserStore`, () => {
    test("a user is found by id and by username or email key, with every field as written", async () => {
      const { stores } = await fresh();
      const row = newUser({ isBot: true, bio: "hello" });
      expect(await stores.users.insert(row)).toEqual(row);
      expect(await stores.users.byId(row.id)).toEqual(row);
      expect(await stores.users.byLoginKey(row.usernameKey)).toEqual(row);
      expect(await stores.users.byLoginKey(row.emailKey)).toEqual(row);
      expect(await stores.users.byId(Bun.randomUUIDv7())).toBeNull();
      expect(await stores.users.byLoginKey("nobody")).toBeNull();
    });

    test("a taken username or email key is reported and nothing is written", async () => {
      const { stores } = await fresh();
      const first = newUser();
      await stores.users.insert(first);
      const sameName = newUser({ usernameKey: first.usernameKey });
      expect(await stores.users.insert(sameName)).toEqual({ taken: "username" });
      expect(await stores.users.insert(newUser({ emailKey: first.emailKey }))).toEqual({ taken: "email" });
      expect(await stores.users.byId(sameName.id)).toBeNull();
      expect(await stores.users.taken(first.usernameKey, null)).toEqual({ taken: "username" });
      expect(await stores.users.taken(null, first.emailKey)).toEqual({ taken: "email" });
      // The user's own keys are not taken from itself.
      expect(await stores.users.taken(first.usernameKey, first.emailKey, first.id)).toBeNull();
    });

    test("update applies a patch, refuses another user's key and answers null for an unknown id", async () => {
      const { stores } = await fresh();
      const a = newUser();
      const b = newUser();
      await stores.users.insert(a);
      await stores.users.insert(b);
      const updated = await stores.users.update(a.id, { bio: "new", tokenVersion: 3, updatedAt: a.updatedAt + 1 });
      expect(updated).toEqual({ ...a, bio: "new", tokenVersion: 3, updatedAt: a.updatedAt + 1 });
      expect(await stores.users.update(a.id, { usernameKey: b.usernameKey })).toEqual({ taken: "username" });
      expect((await stores.users.byId(a.id))!.usernameKey).toBe(a.usernameKey);
      expect(await stores.users.update(Bun.randomUUIDv7(), { bio: "x" })).toBeNull();
    });

    test("search matches username or full-name prefixes, wildcards literally, ordered by username", async () => {
      const { stores } = await fresh();
      const rows = [
        newUser({ username: "b_x", usernameKey: "b_x", fullName: null, fullNameKey: null }),
        newUser({ username: "bax", usernameKey: "bax", fullName: "Zed", fullNameKey: "zed" }),
        newUser({ username: "abc", usernameKey: "abc", fullName: "Bob", fullNameKey: "bob" }),
      ];
      for (const row of rows) await stores.users.insert(row);
      const keys = async (term: string | null) => (await stores.users.search(term, 10, 0)).map((u) => u.usernameKey);
      expect(await keys("b")).toEqual(["abc", "b_x", "bax"]);
      expect(await keys("b_")).toEqual(["b_x"]);
      expect(await keys("b%")).toEqual([]);
      expect(await keys(null)).toEqual(["abc", "b_x", "bax"]);
      expect((await stores.users.search(null, 1, 1)).map((u) => u.usernameKey)).toEqual(["b_x"]);
    });

    test("disable bumps the token version once, enable keeps it; session access and last seen follow", async () => {
      const { stores } = await fresh();
      const row = newUser();
      await stores.users.insert(row);
      expect(await stores.users.setDisabled(row.id, true, 5)).toBe(true);
      expect(await stores.users.setDisabled(row.id, true, 6)).toBe(false);
      expect(await stores.users.sessionAccess([row.id, Bun.randomUUIDv7()])).toEqual([{ id: row.id, tokenVersion: 1, disabledAt: 5 }]);
      expect(await stores.users.setDisabled(row.id, false, 7)).toBe(true);
      expect(await stores.users.sessionAccess([row.id])).toEqual([{ id: row.id, tokenVersion: 1, disabledAt: null }]);
      await stores.users.touchLastSeen(row.id, 42);
      expect((await stores.users.byId(row.id))!.lastSeenAt).toBe(42);
    });
  });

  describe(`${name}: ApiTokenStore`, () => {
    test("insert, find by hash, list newest first with the username, revoke once, touch", async () => {
      const { stores } = await fresh();
      const user = newUser();
      await stores.users.insert(user);
      const token = (n: number) => ({
        id: Bun.randomUUIDv7(),
        userId: user.id,
        name: `t${n}`,
        hash: `hash-${n}-${user.id}`,
        createdAt: 1000 + n,
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
      });
      const [older, newer] = [token(1), token(2)];
      expect(await stores.apiTokens.insert(older)).toEqual(older);
      await stores.apiTokens.insert(newer);
      expect(await stores.apiTokens.byHash(older.hash)).toEqual(older);
      expect(await stores.apiTokens.byHash("unknown")).toBeNull();
      expect((await stores.apiTokens.list(user.id)).map((t) => [t.id, t.username])).toEqual([
        [newer.id, user.username],
        [older.id, user.username],
      ]);
      expect(await stores.apiTokens.list(Bun.randomUUIDv7())).toEqual([]);
      expect(await stores.apiTokens.revoke(older.id, 77)).toEqual({ row: { ...older, revokedAt: 77 }, revoked: true });
      expect(await stores.apiTokens.revoke(older.id, 88)).toEqual({ row: { ...older, revokedAt: 77 }, revoked: false });
      expect(await stores.apiTokens.revoke(Bun.randomUUIDv7(), 1)).toBeNull();
      await stores.apiTokens.touch(newer.id, 99);
      const byIds = await stores.apiTokens.byIds([older.id, newer.id]);
      expect(byIds.map((t) => [t.id, t.revokedAt, t.lastUsedAt]).sort()).toEqual(
        [
          [older.id, 77, null],
          [newer.id, null, 99],
        ].sort(),
      );
      expect(await stores.apiTokens.byIds([])).toEqual([]);
    });
  });

  describe(`${name}: BlockStore`, () => {
    test("blockers by blocked user, blocking twice is one row, the list is newest first", async () => {
      const { stores } = await fresh();
      const [a, b, c] = [newUser(), newUser(), newUser()];
      for (const u of [a, b, c]) await stores.users.insert(u);
      await stores.blocks.add(a.id, c.id, 10);
      await stores.blocks.add(b.id, c.id, 20);
      await stores.blocks.add(a.id, b.id, 30);
      await stores.blocks.add(a.id, c.id, 40);
      expect((await stores.blocks.blockersOf(c.id)).sort()).toEqual([a.id, b.id].sort());
      expect(await stores.blocks.blockersOf(a.id)).toEqual([]);
      expect((await stores.blocks.blockedBy(a.id, 10, 0)).map((u) => u.id)).toEqual([b.id, c.id]);
      expect((await stores.blocks.blockedBy(a.id, 1, 1)).map((u) => u.id)).toEqual([c.id]);
      await stores.blocks.remove(a.id, c.id);
      await stores.blocks.remove(a.id, c.id);
      expect(await stores.blocks.blockersOf(c.id)).toEqual([b.id]);
    });
  });

  describe(`${name}: ConversationStore`, () => {
    const conversation = (createdBy: string, overrides: Partial<ConversationRow> = {}) => ({
      id: Bun.randomUUIDv7(),
      name: "group",
      isGroup: true,
      createdBy,
      directKey: null,
      lastActivityAt: 100,
      createdAt: 100,
      updatedAt: 100,
      ...overrides,
    });

    test("a conversation is created with its members and found by id, by member, by direct key", async () => {
      const { stores } = await fresh();
      const [a, b, c] = [newUser(), newUser(), newUser()];
      for (const u of [a, b, c]) await stores.users.insert(u);
      expect((await stores.users.existingIds([a.id, Bun.randomUUIDv7(), c.id])).sort()).toEqual([a.id, c.id].sort());
      const group = conversation(a.id);
      const created = await stores.conversations.create(group, [
        { userId: a.id, role: "owner" },
        { userId: b.id, role: "member" },
      ]);
      expect(created).toEqual({ ...group, lastSeq: 0, rev: 0, metaRev: 0 });
      expect(await stores.conversations.exists(group.id)).toBe(true);
      expect(await stores.conversations.exists(Bun.randomUUIDv7())).toBe(false);
      expect(await stores.conversations.byId(group.id)).toEqual(created);
      expect(await stores.conversations.forMember(group.id, b.id)).toEqual(created);
      expect(await stores.conversations.forMember(group.id, c.id)).toBeNull();
      const key = [b.id, c.id].sort().join(":");
      const direct = conversation(b.id, { name: null, isGroup: false, directKey: key });
      await stores.conversations.create(direct, [
        { userId: b.id, role: "member" },
        { userId: c.id, role: "member" },
      ]);
      expect((await stores.conversations.byDirectKey(key))!.id).toBe(direct.id);
      expect(await stores.conversations.byDirectKey("x:y")).toBeNull();
      // One direct conversation per pair: the second create fails and leaves no trace.
      const again = conversation(c.id, { name: null, isGroup: false, directKey: key });
      await expect((async () => stores.conversations.create(again, [{ userId: c.id, role: "member" }]))()).rejects.toThrow();
      expect(await stores.conversations.exists(again.id)).toBe(false);
    });

    test("members, contacts, counts, the member's list order and renames", async () => {
      const { stores } = await fresh();
      const [a, b, c] = [newUser(), newUser(), newUser()];
      for (const u of [a, b, c]) await stores.users.insert(u);
      const older = conversation(a.id, { lastActivityAt: 100 });
      const newer = conversation(a.id, { lastActivityAt: 200 });
      await stores.conversations.create(older, [
        { userId: a.id, role: "owner" },
        { userId: b.id, role: "member" },
      ]);
      await stores.conversations.create(newer, [
        { userId: a.id, role: "owner" },
        { userId: c.id, role: "admin" },
      ]);
      expect((await stores.conversations.memberIds(older.id)).sort()).toEqual([a.id, b.id].sort());
      expect((await stores.conversations.conversationIdsOf(a.id)).sort()).toEqual([older.id, newer.id].sort());
      expect((await stores.conversations.contactIdsOf(a.id)).sort()).toEqual([b.id, c.id].sort());
      expect(await stores.conversations.contactIdsOf(b.id)).toEqual([a.id]);
      const counts = await stores.conversations.memberCounts([older.id, newer.id]);
      expect([counts.get(older.id), counts.get(newer.id)]).toEqual([2, 2]);
      expect((await stores.conversations.listForMember(a.id, 10, 0)).map((r) => r.id)).toEqual([newer.id, older.id]);
      expect((await stores.conversations.listForMember(a.id, 1, 1)).map((r) => r.id)).toEqual([older.id]);
      expect((await stores.conversations.rename(older.id, "renamed"))!.name).toBe("renamed");
      expect(await stores.conversations.rename(Bun.randomUUIDv7(), "x")).toBeNull();
    });

    test("membership writes: add, roles, settings, remove down to none, delete", async () => {
      const { stores } = await fresh();
      const [a, b, c] = [newUser(), newUser(), newUser()];
      for (const u of [a, b, c]) await stores.users.insert(u);
      const group = conversation(a.id);
      await stores.conversations.create(group, [{ userId: a.id, role: "owner" }]);
      await stores.conversations.addMembers(group.id, [b.id, c.id], 150);
      expect(await stores.conversations.members(group.id)).toEqual([
        { userId: a.id, role: "owner" },
        { userId: b.id, role: "member" },
        { userId: c.id, role: "member" },
      ]);
      await stores.conversations.setRole(group.id, b.id, "admin");
      expect(await stores.conversations.roleOf(group.id, b.id)).toBe("admin");
      expect(await stores.conversations.roleOf(group.id, Bun.randomUUIDv7())).toBeNull();
      await stores.conversations.updateSettings(group.id, c.id, { muted: true, mutedUntil: 999, pinned: true });
      await stores.conversations.updateSettings(group.id, c.id, { pinned: false });
      const cRow = (await stores.conversations.participants(c.id, [group.id], 10)).find((p) => p.user.id === c.id)!;
      expect([cRow.joinedAt, cRow.muted, cRow.mutedUntil, cRow.pinned]).toEqual([150, true, 999, false]);
      expect(await stores.conversations.removeMember(group.id, a.id)).toBe(2);
      expect(await stores.conversations.removeMember(group.id, b.id)).toBe(1);
      expect(await stores.conversations.removeMember(group.id, c.id)).toBe(0);
      await stores.conversations.delete(group.id);
      expect(await stores.conversations.exists(group.id)).toBe(false);
    });

    test("revise takes the next rev with its change, stamps meta_rev when asked, and spends nothing on no change", async () => {
      const { stores } = await fresh();
      const a = newUser();
      await stores.users.insert(a);
      const group = conversation(a.id);
      await stores.conversations.create(group, [{ userId: a.id, role: "owner" }]);
      const renamed = await stores.conversations.revise(group.id, { meta: true, at: 500 }, (tx, rev) => {
        expect(rev).toBe(1);
        return tx.conversations.rename(group.id, "first");
      });
      expect(renamed).toMatchObject({ rev: 1, at: 500, result: { name: "first" } });
      expect(await stores.conversations.byId(group.id)).toMatchObject({ rev: 1, metaRev: 1, updatedAt: 500, name: "first" });
      // A change that changes nothing rolls back, its writes too: the rev is not spent.
      const unchanged = await stores.conversations.revise(group.id, { meta: true, at: 600 }, (tx) => {
        tx.conversations.rename(group.id, "rolled back");
        return NO_CHANGE;
      });
      expect(unchanged).toBeNull();
      expect(await stores.conversations.byId(group.id)).toMatchObject({ rev: 1, metaRev: 1, updatedAt: 500, name: "first" });
      expect(await stores.conversations.revise(group.id, { at: 700 }, () => "ok")).toEqual({ rev: 2, at: 700, result: "ok" });
      expect(await stores.conversations.byId(group.id)).toMatchObject({ rev: 2, metaRev: 1 });
      expect(await stores.conversations.revise(Bun.randomUUIDv7(), { at: 1 }, () => "x")).toBe("missing");
      // An error in the change rolls back too.
      await expect((async () => stores.conversations.revise(group.id, { at: 800 }, () => { throw new Error("boom"); }))()).rejects.toThrow("boom");
      expect((await stores.conversations.byId(group.id))!.rev).toBe(2);
    });

    test("participants: roles and settings with the users, capped per conversation but always including me", async () => {
      const { stores } = await fresh();
      const people = [newUser({ isBot: true }), newUser(), newUser(), newUser()];
      for (const u of people) await stores.users.insert(u);
      const group = conversation(people[0]!.id);
      await stores.conversations.create(
        group,
        people.map((u, i) => ({ userId: u.id, role: i === 0 ? ("owner" as const) : ("member" as const) })),
      );
      const all = await stores.conversations.participants("", [group.id], 100);
      expect(all.map((p) => p.user.id).sort()).toEqual(people.map((u) => u.id).sort());
      const owner = all.find((p) => p.role === "owner")!;
      expect(owner).toEqual({ conversationId: group.id, user: people[0]!, role: "owner", joinedAt: 100, muted: false, mutedUntil: null, pinned: false });
      const me = all.at(-1)!.user.id;
      const capped = await stores.conversations.participants(me, [group.id], 1);
      expect(capped.map((p) => p.user.id)).toEqual([all[0]!.user.id, me]);
    });
  });

  describe(`${name}: SearchStore`, () => {
    test("hits are the member's undeleted matches, newest first, paged by position, with marked matches", async () => {
      const o = await openFresh();
      const { stores } = o.storage;
      const [a, b] = [newUser(), newUser()];
      for (const u of [a, b]) await stores.users.insert(u);
      const mine = { id: Bun.randomUUIDv7(), name: "g", isGroup: true, createdBy: a.id, directKey: null, lastActivityAt: 1, createdAt: 1, updatedAt: 1 };
      const theirs = { ...mine, id: Bun.randomUUIDv7(), createdBy: b.id };
      await stores.conversations.create(mine, [{ userId: a.id, role: "owner" }]);
      await stores.conversations.create(theirs, [{ userId: b.id, role: "owner" }]);
      const [pie, tart, pears, gone] = Array.from({ length: 4 }, () => Bun.randomUUIDv7()) as [string, string, string, string];
      await o.insertMessage({ id: pie, conversationId: mine.id, seq: 1, senderId: a.id, content: "apple pie" });
      await o.insertMessage({ id: tart, conversationId: theirs.id, seq: 1, senderId: b.id, content: "apple tart" });
      await o.insertMessage({ id: pears, conversationId: mine.id, seq: 2, senderId: a.id, content: "apples and pears" });
      await o.insertMessage({ id: gone, conversationId: mine.id, seq: 3, senderId: a.id, content: "apple gone", deleted: true });
      const all = await stores.search.hits(a.id, [{ text: "apple", prefix: true }], { before: Number.MAX_SAFE_INTEGER, limit: 10 });
      expect(all.more).toBe(false);
      expect(all.hits.map((h) => h.messageId)).toEqual([pears, pie]);
      const { text, open, close } = all.hits[1]!.marked;
      expect(text).toBe(`${open}apple${close} pie`);
      const first = await stores.search.hits(a.id, [{ text: "apple", prefix: true }], { before: Number.MAX_SAFE_INTEGER, limit: 1 });
      expect([first.more, first.hits.map((h) => h.messageId)]).toEqual([true, [pears]]);
      const next = await stores.search.hits(a.id, [{ text: "apple", prefix: true }], { before: first.hits[0]!.position, limit: 1 });
      expect([next.more, next.hits.map((h) => h.messageId)]).toEqual([false, [pie]]);
      const exact = await stores.search.hits(a.id, [{ text: "apple", prefix: false }, { text: "pie", prefix: false }], { before: Number.MAX_SAFE_INTEGER, limit: 10, conversationId: mine.id });
      expect(exact.hits.map((h) => h.messageId)).toEqual([pie]);
      // Query syntax in a term is text: no operator, no error.
      const literal = await stores.search.hits(a.id, [{ text: 'NEAR(apple "pie") OR', prefix: false }], { before: Number.MAX_SAFE_INTEGER, limit: 10 });
      expect(literal.hits).toEqual([]);
    });
  });

  describe(`${name}: AttachmentStore`, () => {
    test("uploads count toward the owner's bytes and pending count, are the owner's alone to see, and unclaimed old ones are swept", async () => {
      const { stores } = await fresh();
      const [a, b] = [newUser(), newUser()];
      for (const u of [a, b]) await stores.users.insert(u);
      const upload = (id: string, sha256: string, size: number, createdAt: number) => ({
        id,
        owner_id: a.id,
        sha256,
        size,
        content_type: "image/png",
        filename: "x.png",
        width: 2,
        height: 3,
        created_at: createdAt,
        claimed_at: null,
      });
      const [old, fresh1, sameBytes] = [upload(Bun.randomUUIDv7(), "a".repeat(64), 10, 100), upload(Bun.randomUUIDv7(), "b".repeat(64), 5, 500), upload(Bun.randomUUIDv7(), "a".repeat(64), 10, 600)];
      for (const row of [old, fresh1, sameBytes]) await stores.attachments.insert(row);
      expect([await stores.attachments.usedBytes(a.id), await stores.attachments.pendingUploads(a.id)]).toEqual([25, 3]);
      expect(await stores.attachments.usedBytes(b.id)).toBe(0);
      expect(await stores.attachments.visibleTo(old.id, a.id)).toEqual(old);
      expect(await stores.attachments.visibleTo(old.id, b.id)).toBeNull();
      const uses = await stores.attachments.uses([old.id, Bun.randomUUIDv7()]);
      expect([...uses.entries()]).toEqual([[old.id, { ownerId: a.id, claimedAt: null, conversationId: null, clientMsgId: null }]]);
      expect(await stores.attachments.sweepUnclaimed(200, 100)).toEqual([old.sha256]);
      expect(await stores.attachments.visibleTo(old.id, a.id)).toBeNull();
      // The same bytes are still named by another upload; the swept one's were its own.
      expect(await stores.attachments.blobInUse(old.sha256)).toBe(true);
      expect(await stores.attachments.releaseForMessage(Bun.randomUUIDv7())).toEqual([]);
      expect(await stores.attachments.sweepUnclaimed(1000, 100)).toHaveLength(2);
      expect(await stores.attachments.blobInUse(old.sha256)).toBe(false);
    });
  });

  if (options.messages !== false) describeMessageStore(name, openFresh);

  describe(`${name}: WebhookStore`, () => {
    test("a hook is listed with no pending events and removed once", async () => {
      const { stores } = await fresh();
      const hook = { id: Bun.randomUUIDv7(), url: "https://example.test/h", events: ",message.created,", conversationId: null, secret: "whsec_x", concurrency: 2, createdAt: 5 };
      await stores.webhooks.insert(hook);
      expect(await stores.webhooks.list()).toEqual([
        {
          ...hook,
          deliveredCount: 0,
          failedCount: 0,
          attemptFailures: 0,
          lastError: null,
          lastErrorAt: null,
          lastDeliveredAt: null,
          pending: 0,
        },
      ]);
      expect(await stores.webhooks.remove(hook.id)).toBe(true);
      expect(await stores.webhooks.remove(hook.id)).toBe(false);
      expect(await stores.webhooks.list()).toEqual([]);
    });
  });
}

