// The storage ports on PostgreSQL: the same adapter-independent bodies SQLite runs
// (test/support/stores.ts), on a real PostgreSQL, then what only this adapter has to answer for:
// unique-key races between instances, U+0000, byte order whatever the locale, search positions.
import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { NO_CHANGE } from "../../src/ports/stores";
import { openPostgres, type PgDb } from "../../src/storage/postgres/client";
import { runPgMigrations } from "../../src/storage/postgres/migrate";
import { openPostgresStores, postgresStorage, type PostgresStores } from "../../src/storage/postgres/stores";
import { postgresMissing, sharedPostgres } from "../support/postgres";
import { describeStores, newUser, type NewMessage } from "../support/stores";

// A fresh migrated database per test, its pools closed after the test: some twenty databases with
// open pools would pass the test cluster's max_connections.
const cluster = sharedPostgres();
let pools: PgDb[] = [];
afterEach(async () => {
  const open = pools;
  pools = [];
  await Promise.all(open.map((db) => db.$client.close()));
});
async function database() {
  const url = await (await cluster()).createDatabase();
  const connect = (max = 4) => {
    const db = openPostgres(url, { max });
    pools.push(db);
    return db;
  };
  const db = connect();
  await runPgMigrations(db);
  return { db, connect };
}

/** One message row as the group commit writes it, moving the conversation's last_seq and rev up to it (as test/stores.test.ts on SQLite). */
const insertMessage = (db: PgDb) => async (m: NewMessage) => {
  const rev = m.rev ?? 0;
  await db.execute(sql`
    INSERT INTO messages (id, conversation_id, seq, sender_id, content, deleted_at, rev, created_rev, reply_to_id, mentions, created_at, updated_at)
    VALUES (${m.id}, ${m.conversationId}, ${m.seq}, ${m.senderId}, ${m.content}, ${m.deleted ? 1 : null}, ${rev}, ${rev},
            ${m.replyToId ?? null}, ${m.mentions?.length ? JSON.stringify(m.mentions) : null}, 1, 1)`);
  await db.execute(sql`UPDATE conversations SET last_seq = greatest(last_seq, ${m.seq}), rev = greatest(rev, ${rev}) WHERE id = ${m.conversationId}`);
};

if (postgresMissing === null) {
  describeStores("postgres", async () => {
    const { db } = await database();
    // The pools are closed after each test.
    return { storage: postgresStorage(db), insertMessage: insertMessage(db), close: () => {} };
  });
}

describe.skipIf(postgresMissing !== null)("postgres stores", () => {
  const group = (createdBy: string) => ({
    id: Bun.randomUUIDv7(),
    name: "g",
    isGroup: true,
    createdBy,
    directKey: null,
    lastActivityAt: 1,
    createdAt: 1,
    updatedAt: 1,
  });

  test("one username claimed by four instances at once: one user, three answers of Taken, no error", async () => {
    const { connect } = await database();
    const instances: PostgresStores[] = [0, 1, 2, 3].map(() => openPostgresStores(connect(1)));
    const results = await Promise.all(instances.map((s, i) => s.users.insert(newUser({ usernameKey: "race", emailKey: `race${i}@x.test` }))));
    expect(results.filter((r) => "taken" in r)).toEqual([{ taken: "username" }, { taken: "username" }, { taken: "username" }]);
    const emails = await Promise.all(instances.map((s) => s.users.insert(newUser({ emailKey: "same@x.test" }))));
    expect(emails.filter((r) => "taken" in r)).toEqual([{ taken: "email" }, { taken: "email" }, { taken: "email" }]);
  });

  test("an update racing to another user's key is answered as Taken", async () => {
    const { connect } = await database();
    const [s1, s2] = [openPostgresStores(connect(1)), openPostgresStores(connect(1))];
    const [a, b] = [newUser(), newUser()];
    await s1.users.insert(a);
    await s1.users.insert(b);
    const results = await Promise.all([s1.users.update(a.id, { usernameKey: "wanted" }), s2.users.update(b.id, { usernameKey: "wanted" })]);
    expect(results.filter((r) => r !== null && "taken" in r)).toEqual([{ taken: "username" }]);
  });

  test("one direct conversation created by two instances at once: one wins, the other fails and leaves nothing", async () => {
    const { db, connect } = await database();
    const [s1, s2] = [openPostgresStores(connect(1)), openPostgresStores(connect(1))];
    const [a, b] = [newUser(), newUser()];
    await s1.users.insert(a);
    await s1.users.insert(b);
    const key = [a.id, b.id].sort().join(":");
    const direct = () => ({ ...group(a.id), name: null, isGroup: false, directKey: key });
    const pair = [
      { userId: a.id, role: "member" as const },
      { userId: b.id, role: "member" as const },
    ];
    const [first, second] = [direct(), direct()];
    const results = await Promise.allSettled([s1.conversations.create(first, pair), s2.conversations.create(second, pair)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const winner = (await openPostgresStores(db).conversations.byDirectKey(key))!.id;
    const loser = winner === first.id ? second.id : first.id;
    expect(await s1.conversations.exists(loser)).toBe(false);
    expect(await s1.conversations.conversationIdsOf(a.id)).toEqual([winner]);
  });

  test("U+0000 is stripped from what is written and from lookups, never an error", async () => {
    const { db } = await database();
    const stores = openPostgresStores(db);
    const row = newUser({ usernameKey: "nul\u0000key", fullName: "A\u0000B", fullNameKey: "a\u0000b", bio: "x\u0000y" });
    const inserted = await stores.users.insert(row);
    expect(inserted).toMatchObject({ usernameKey: "nulkey", fullName: "AB", fullNameKey: "ab", bio: "xy" });
    expect((await stores.users.byLoginKey("nul\u0000key"))!.id).toBe(row.id);
    expect((await stores.users.search("a\u0000", 10, 0)).map((u) => u.id)).toEqual([row.id]);
    expect(await stores.users.update(row.id, { bio: "\u0000" })).toMatchObject({ bio: "" });
    const conversation = group(row.id);
    await stores.conversations.create({ ...conversation, name: "n\u0000m" }, [{ userId: row.id, role: "owner" }]);
    expect((await stores.conversations.rename(conversation.id, "r\u0000s"))!.name).toBe("rs");
  });

  test("user search and order are byte order whatever the database's collation", async () => {
    const { db } = await database();
    // A linguistic collation ignores punctuation at first: "bax" before "b_x", "B" beside "b".
    await db.execute(sql`ALTER TABLE users ALTER COLUMN username_key TYPE text COLLATE "en-x-icu"`);
    const stores = openPostgresStores(db);
    for (const key of ["bax", "b_x", "b-y", "bZ"]) await stores.users.insert(newUser({ username: key, usernameKey: key }));
    expect((await stores.users.search("b", 10, 0)).map((u) => u.usernameKey)).toEqual(["b-y", "bZ", "b_x", "bax"]);
  });

  test("the prefix search and its order use the byte-order index", async () => {
    const { db } = await database();
    const plan = await db.execute(
      sql`EXPLAIN (COSTS OFF) SELECT id FROM users WHERE (username_key COLLATE "C") LIKE 'ab%' ORDER BY (username_key COLLATE "C") LIMIT 5`,
    );
    const text = (plan as unknown as { "QUERY PLAN": string }[]).map((r) => r["QUERY PLAN"]).join("\n");
    // An empty table still has the index: with sequential scans off the planner must be able to use it.
    await db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL enable_seqscan = off`);
      const forced = (await tx.execute(
        sql`EXPLAIN (COSTS OFF) SELECT id FROM users WHERE (username_key COLLATE "C") LIKE 'ab%' ORDER BY (username_key COLLATE "C") LIMIT 5`,
      )) as unknown as { "QUERY PLAN": string }[];
      expect(forced.map((r) => r["QUERY PLAN"]).join("\n")).toContain("users_username_key_bytes");
    });
    expect(text).toContain("Limit");
  });

  test("search positions follow insertion across conversations; a message holding the markers gets others", async () => {
    const { db } = await database();
    const stores = openPostgresStores(db);
    const a = newUser();
    await stores.users.insert(a);
    const [c1, c2] = [group(a.id), group(a.id)];
    await stores.conversations.create(c1, [{ userId: a.id, role: "owner" }]);
    await stores.conversations.create(c2, [{ userId: a.id, role: "owner" }]);
    const ids = [Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7()] as const;
    await insertMessage(db)({ id: ids[0], conversationId: c1.id, seq: 1, senderId: a.id, content: "kiwi one" });
    await insertMessage(db)({ id: ids[1], conversationId: c2.id, seq: 1, senderId: a.id, content: "kiwi \uE000two\uE001" });
    await insertMessage(db)({ id: ids[2], conversationId: c1.id, seq: 2, senderId: a.id, content: "kiwi three" });
    const page = await stores.search.hits(a.id, [{ text: "kiwi", prefix: false }], { before: Number.MAX_SAFE_INTEGER, limit: 10 });
    expect(page.hits.map((h) => h.messageId)).toEqual([ids[2], ids[1], ids[0]]);
    const positions = page.hits.map((h) => h.position);
    expect(positions.every((p) => Number.isSafeInteger(p) && p >= 1)).toBe(true);
    expect([...positions].sort((x, y) => y - x)).toEqual(positions);
    const odd = page.hits[1]!.marked;
    expect([odd.open, odd.close]).not.toContain("\uE000");
    expect(odd.text).toBe(`${odd.open}kiwi${odd.close} \uE000two\uE001`);
    // Punctuation only: no word to look for, no hit, no error.
    expect(await stores.search.hits(a.id, [{ text: "!!", prefix: false }], { before: Number.MAX_SAFE_INTEGER, limit: 10 })).toEqual({ hits: [], more: false });
  });

  test("postgresStorage keeps no user, token or blocker cache: nothing tells it of another instance's writes to them", async () => {
    const { db } = await database();
    const { caches } = postgresStorage(db);
    const row = newUser();
    caches.users.set(row.id, row);
    caches.blockers.set(row.id, new Set());
    expect([caches.users.get(row.id), caches.blockers.get(row.id), caches.users.size]).toEqual([undefined, undefined, 0]);
  });
});

describe.skipIf(postgresMissing !== null)("postgres revisions through the store", () => {
  test("revisions from four instances at once take revs 1..N once each; no-change ones spend none", async () => {
    const { db, connect } = await database();
    const setup = openPostgresStores(db);
    const owner = newUser();
    await setup.users.insert(owner);
    const id = Bun.randomUUIDv7();
    await setup.conversations.create(
      { id, name: "g", isGroup: true, createdBy: owner.id, directKey: null, lastActivityAt: 1, createdAt: 1, updatedAt: 1 },
      [{ userId: owner.id, role: "owner" }],
    );
    const revs: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        const stores = openPostgresStores(connect(1));
        for (let i = 0; i < 8; i++) {
          const revision = await stores.conversations.revise(id, { meta: i % 2 === 0, at: i }, async (tx, rev) => {
            if (i % 4 === 3) return NO_CHANGE;
            await tx.conversations.rename(id, `w${w}.${i}`);
            return rev;
          });
          if (revision && revision !== "missing") revs.push(revision.result);
        }
      }),
    );
    expect(revs.sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(await setup.conversations.byId(id)).toMatchObject({ rev: 24 });
  });
});
