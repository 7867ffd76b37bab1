// REST contract: sending (trim, limits, idempotency, gap-free seq), paging by seq, read cursors, is_read and unread counts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, randomUuid, type TestUser } from "../support/api";
import { expectError, expectExactKeys, expectMessageView, ISO_MS } from "../support/expect";
import { onPostgres, sqliteOnly, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`m${i}`)));
async function pair() {
  const [alice, bob] = await users(2);
  const dm = (await api.dm(alice!.token, bob!.user.id)).body.id as string;
  return { alice: alice!, bob: bob!, dm };
}
const page = (token: string, conversationId: string, query = "") =>
  api.get(`${API}/conversations/${conversationId}/messages${query ? "?" + query : ""}`, token);
const seqs = (res: { body: any[] }) => res.body.map((m) => m.seq);
const markRead = (token: string, messageId: string) => api.put(`${API}/messages/${messageId}/read`, undefined, token);
const unread = (token: string) => api.get(`${API}/messages/unread/count`, token);
async function sendMany(token: string, conversationId: string, n: number) {
  const out = [];
  for (let i = 1; i <= n; i++) out.push((await api.send(token, conversationId, `message ${i}`)).body);
  return out;
}

describe("POST /conversations/{id}/messages", () => {
  test("a direct message is 201 with seq 1, the recipient, and no client_msg_id", async () => {
    const { alice, bob, dm } = await pair();
    const res = await api.send(alice.token, dm, "hello");
    expect(res.status).toBe(201);
    expectMessageView(res.body);
    expect(res.body).toMatchObject({
      conversation_id: dm,
      sender_id: alice.user.id,
      recipient_id: bob.user.id,
      content: "hello",
      seq: 1,
      client_msg_id: null,
      is_read: false,
    });
  });

  test("a group message has recipient_id null", async () => {
    const [alice, bob, carol] = await users(3);
    const group = (await api.group(alice!.token, "g", [bob!.user.id, carol!.user.id])).body.id;
    const res = await api.send(bob!.token, group, "hi all", "k1");
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ recipient_id: null, sender_id: bob!.user.id, client_msg_id: "k1", seq: 1 });
  });

  test("content is trimmed", async () => {
    const { alice, dm } = await pair();
    const res = await api.send(alice.token, dm, " \n\t hello there \n ");
    expect(res.status).toBe(201);
    expect(res.body.content).toBe("hello there");
    expect((await page(alice.token, dm)).body[0].content).toBe("hello there");
  });

  test("empty, whitespace-only and 4001-character content is a 422 naming content and stores nothing", async () => {
    const { alice, dm } = await pair();
    for (const content of ["", "   ", "\n\t \r\n", "x".repeat(4001), ` ${"y".repeat(4001)} `]) {
      expectError(await api.send(alice.token, dm, content), 422, { field: "content", context: `${content.length} chars` });
    }
    expectError(await api.request("POST", `${API}/conversations/${dm}/messages`, { token: alice.token, body: {} }), 422, {
      field: "content",
    });
    expect((await page(alice.token, dm)).body).toEqual([]);
  });

  test("4000 characters are accepted, counted after trimming", async () => {
    const { alice, dm } = await pair();
    const res = await api.send(alice.token, dm, `   ${"z".repeat(4000)}\n\n`);
    expect(res.status).toBe(201);
    expect(res.body.content).toBe("z".repeat(4000));
  });

  test("4000 emoji are 4000 characters, not 8000", async () => {
    const { alice, dm } = await pair();
    const res = await api.send(alice.token, dm, "😀".repeat(4000));
    expect(res.status).toBe(201);
    expect([...res.body.content]).toHaveLength(4000);
    expectError(await api.send(alice.token, dm, "😀".repeat(4001)), 422, { field: "content" });
  });

  test("unicode, emoji and SQL metacharacters are stored and returned verbatim (U+0000 stripped on PostgreSQL)", async () => {
    const { alice, bob, dm } = await pair();
    const samples = [
      "Robert'); DROP TABLE messages;--",
      `" OR 1=1 -- ; SELECT * FROM users WHERE '1'='1'`,
      "100% _match_ \\ escaped",
      "こんにちは 世界 👋🏽 👨‍👩‍👧‍👦 🇫🇷",
      "RTL: مرحبا بالعالم",
      "zero\u200bwidth and combining e\u0301",
      "<script>alert(1)</script>",
      "null \u0000 byte",
    ];
    // PostgreSQL text cannot hold U+0000: that engine stores the text without it (README, PostgreSQL).
    const stored = (content: string) => (onPostgres ? content.replaceAll("\u0000", "") : content);
    for (const content of samples) {
      const res = await api.send(alice.token, dm, content);
      expect(res.status, content).toBe(201);
      expect(res.body.content, content).toBe(stored(content));
    }
    expect((await page(bob.token, dm)).body.map((m: any) => m.content)).toEqual(samples.map(stored));
  });

  test("a repeated client_msg_id returns the original message with 200 and stores nothing", async () => {
    const { alice, dm } = await pair();
    const first = await api.send(alice.token, dm, "original", "key-1");
    expect(first.status).toBe(201);
    expect(first.body.client_msg_id).toBe("key-1");
    const again = await api.send(alice.token, dm, "a different text", "key-1");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const next = await api.send(alice.token, dm, "next", "key-2");
    expect(next.body.seq).toBe(2);
    expect((await page(alice.token, dm)).body.map((m: any) => m.content)).toEqual(["original", "next"]);
  });

  test("the repeated message reflects its current read state", async () => {
    const { alice, bob, dm } = await pair();
    const first = await api.send(alice.token, dm, "read me", "key-r");
    expect((await markRead(bob.token, first.body.id)).status).toBe(200);
    const again = await api.send(alice.token, dm, "read me", "key-r");
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.is_read).toBe(true);
  });

  test("concurrent repeats of one client_msg_id store one message: one 201, the rest 200", async () => {
    const { alice, dm } = await pair();
    const results = await Promise.all(Array.from({ length: 8 }, () => api.send(alice.token, dm, "once", "same-key")));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(seqs(await page(alice.token, dm))).toEqual([1]);
  });

  test("client_msg_id is scoped to the sender and the conversation", async () => {
    const [alice, bob, carol] = await users(3);
    const dm = (await api.dm(alice!.token, bob!.user.id)).body.id;
    const other = (await api.dm(alice!.token, carol!.user.id)).body.id;
    expect((await api.send(alice!.token, dm, "a", "shared")).status).toBe(201);
    expect((await api.send(bob!.token, dm, "b", "shared")).status).toBe(201);
    expect((await api.send(alice!.token, other, "c", "shared")).status).toBe(201);
    expect(seqs(await page(alice!.token, dm))).toEqual([1, 2]);
  });

  test("a client_msg_id longer than 128 characters is a 422 naming client_msg_id", async () => {
    const { alice, dm } = await pair();
    expectError(await api.send(alice.token, dm, "x", "k".repeat(129)), 422, { field: "client_msg_id" });
  });

  test("seq is gap-free 1..N across concurrent senders", async () => {
    const [alice, bob, carol] = await users(3);
    const group = (await api.group(alice!.token, "busy", [bob!.user.id, carol!.user.id])).body.id;
    const senders = [alice!, bob!, carol!];
    const sent = await Promise.all(Array.from({ length: 45 }, (_, i) => api.send(senders[i % 3]!.token, group, `n${i}`)));
    expect(sent.every((r) => r.status === 201)).toBe(true);
    expect(sent.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const all = await page(carol!.token, group, "limit=100");
    expect(seqs(all)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
  });

  test("an unknown conversation is a 404 and a bad body is a 422", async () => {
    const { alice, dm } = await pair();
    expectError(await api.send(alice.token, randomUuid(), "hello"), 404, { code: "not_found" });
    expectError(await api.request("POST", `${API}/conversations/${dm}/messages`, { token: alice.token, body: { content: "x", seq: 5 } }), 422, {
      field: "seq",
    });
  });
});

describe("GET /conversations/{id}/messages", () => {
  test("an empty conversation is an empty page", async () => {
    const { alice, dm } = await pair();
    for (const q of ["", "after=0", "before=10", "limit=1"]) {
      const res = await page(alice.token, dm, q);
      expect(res.status, q).toBe(200);
      expect(res.body, q).toEqual([]);
    }
  });

  test("without a cursor: the latest limit messages, ascending", async () => {
    const { alice, bob, dm } = await pair();
    await sendMany(alice.token, dm, 7);
    const all = await page(bob.token, dm);
    expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const m of all.body) expectMessageView(m);
    expect(seqs(await page(bob.token, dm, "limit=3"))).toEqual([5, 6, 7]);
  });

  test("before=S: the limit messages just before S", async () => {
    const { alice, dm } = await pair();
    await sendMany(alice.token, dm, 7);
    expect(seqs(await page(alice.token, dm, "before=5&limit=2"))).toEqual([3, 4]);
    expect(seqs(await page(alice.token, dm, "before=5"))).toEqual([1, 2, 3, 4]);
    expect(seqs(await page(alice.token, dm, "before=1"))).toEqual([]);
    expect(seqs(await page(alice.token, dm, "before=100&limit=2"))).toEqual([6, 7]);
  });

  test("after=S: the limit messages just after S (catch-up)", async () => {
    const { alice, dm } = await pair();
    await sendMany(alice.token, dm, 7);
    expect(seqs(await page(alice.token, dm, "after=5"))).toEqual([6, 7]);
    expect(seqs(await page(alice.token, dm, "after=0&limit=3"))).toEqual([1, 2, 3]);
    expect(seqs(await page(alice.token, dm, "after=2&limit=2"))).toEqual([3, 4]);
    expect(seqs(await page(alice.token, dm, "after=7"))).toEqual([]);
  });

  test("limit defaults to 50 and caps at 100; 101 and 0 are a 422 naming limit", async () => {
    const [alice, bob] = await users(2);
    const group = (await api.group(alice!.token, "many", [bob!.user.id])).body.id;
    const sent = await Promise.all(Array.from({ length: 105 }, (_, i) => api.send(i % 2 ? alice!.token : bob!.token, group, `m${i}`)));
    expect(sent.every((r) => r.status === 201)).toBe(true);
    const latest = await page(alice!.token, group);
    expect(seqs(latest)).toEqual(Array.from({ length: 50 }, (_, i) => 56 + i));
    expect(seqs(await page(alice!.token, group, "limit=100"))).toEqual(Array.from({ length: 100 }, (_, i) => 6 + i));
    expect(seqs(await page(alice!.token, group, "after=0&limit=100"))).toEqual(Array.from({ length: 100 }, (_, i) => 1 + i));
    expectError(await page(alice!.token, group, "limit=101"), 422, { field: "limit" });
    expectError(await page(alice!.token, group, "limit=0"), 422, { field: "limit" });
  });

  test("before and after together are a 422", async () => {
    const { alice, dm } = await pair();
    await sendMany(alice.token, dm, 3);
    const res = await page(alice.token, dm, "before=3&after=1");
    expectError(res, 422);
    expect(res.body.detail).toMatch(/before|after/);
  });

  test("negative or non-integer cursors are a 422 naming the cursor", async () => {
    const { alice, dm } = await pair();
    expectError(await page(alice.token, dm, "before=-1"), 422, { field: "before" });
    expectError(await page(alice.token, dm, "after=abc"), 422, { field: "after" });
    expectError(await page(alice.token, dm, "after=1.5"), 422, { field: "after" });
  });
});

describe("is_read", () => {
  test("others' messages: whether the caller has read them", async () => {
    const { alice, bob, dm } = await pair();
    const sent = await sendMany(alice.token, dm, 3);
    expect((await page(bob.token, dm)).body.map((m: any) => m.is_read)).toEqual([false, false, false]);
    expect((await markRead(bob.token, sent[1].id)).status).toBe(200);
    expect((await page(bob.token, dm)).body.map((m: any) => m.is_read)).toEqual([true, true, false]);
  });

  test("own messages in a direct conversation: whether the other member has read them", async () => {
    const { alice, bob, dm } = await pair();
    const sent = await sendMany(alice.token, dm, 3);
    expect((await page(alice.token, dm)).body.map((m: any) => m.is_read)).toEqual([false, false, false]);
    await markRead(bob.token, sent[0].id);
    expect((await page(alice.token, dm)).body.map((m: any) => m.is_read)).toEqual([true, false, false]);
    // Alice reading her own messages does not make them read by bob.
    await markRead(alice.token, sent[2].id);
    expect((await page(alice.token, dm)).body.map((m: any) => m.is_read)).toEqual([true, false, false]);
  });

  test("own messages in a group: read only when every other member has read them", async () => {
    const [alice, bob, carol] = await users(3);
    const group = (await api.group(alice!.token, "g", [bob!.user.id, carol!.user.id])).body.id;
    const sent = await sendMany(alice!.token, group, 2);
    await markRead(bob!.token, sent[1].id);
    expect((await page(alice!.token, group)).body.map((m: any) => m.is_read)).toEqual([false, false]);
    await markRead(carol!.token, sent[0].id);
    expect((await page(alice!.token, group)).body.map((m: any) => m.is_read)).toEqual([true, false]);
    await markRead(carol!.token, sent[1].id);
    expect((await page(alice!.token, group)).body.map((m: any) => m.is_read)).toEqual([true, true]);
    // Bob's view of alice's messages follows bob's own cursor only.
    expect((await page(bob!.token, group)).body.map((m: any) => m.is_read)).toEqual([true, true]);
  });
});

describe("PUT /messages/{id}/read", () => {
  test("returns the receipt and marks that message and every earlier one", async () => {
    const { alice, bob, dm } = await pair();
    const sent = await sendMany(alice.token, dm, 4);
    const res = await markRead(bob.token, sent[2].id);
    expect(res.status).toBe(200);
    expectExactKeys(res.body, ["conversation_id", "last_read_seq", "message_id", "read_at", "user_id"]);
    expect(res.body).toMatchObject({ message_id: sent[2].id, conversation_id: dm, user_id: bob.user.id, last_read_seq: 3 });
    expect(res.body.read_at).toMatch(ISO_MS);
    expect((await unread(bob.token)).body.unread_count).toBe(1);
  });

  test("the cursor only moves forward: marking an earlier message keeps the later position", async () => {
    const { alice, bob, dm } = await pair();
    const sent = await sendMany(alice.token, dm, 4);
    expect((await markRead(bob.token, sent[2].id)).body.last_read_seq).toBe(3);
    const back = await markRead(bob.token, sent[0].id);
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ message_id: sent[0].id, last_read_seq: 3 });
    expect((await page(bob.token, dm)).body.map((m: any) => m.is_read)).toEqual([true, true, true, false]);
    expect((await unread(bob.token)).body.unread_count).toBe(1);
    expect((await markRead(bob.token, sent[2].id)).body.last_read_seq).toBe(3); // repeating is harmless
  });

  test("marking your own message moves your own cursor, and is allowed", async () => {
    const { alice, bob, dm } = await pair();
    await api.send(bob.token, dm, "from bob");
    const mine = (await api.send(alice.token, dm, "from alice")).body;
    const res = await markRead(alice.token, mine.id);
    expect(res.status).toBe(200);
    expect(res.body.last_read_seq).toBe(2);
    expect((await unread(alice.token)).body).toEqual({ unread_count: 0, mention_count: 0, conversations: [] });
  });

  test("an unknown message is a 404", async () => {
    const { alice } = await pair();
    expectError(await markRead(alice.token, randomUuid()), 404, { code: "not_found" });
  });
});

describe("GET /messages/unread/count", () => {
  test("counts others' messages above the cursor, total and per conversation, zeros omitted", async () => {
    const [alice, bob, carol] = await users(3);
    const withBob = (await api.dm(alice!.token, bob!.user.id)).body.id;
    const withCarol = (await api.dm(alice!.token, carol!.user.id)).body.id;
    const group = (await api.group(carol!.token, "g", [alice!.user.id, bob!.user.id])).body.id;
    expect((await unread(alice!.token)).body).toEqual({ unread_count: 0, mention_count: 0, conversations: [] });

    const fromBob = await sendMany(bob!.token, withBob, 3);
    await sendMany(carol!.token, withCarol, 2);
    await sendMany(alice!.token, group, 4); // alice's own: never unread for her
    const counts = (await unread(alice!.token)).body;
    expect(counts.unread_count).toBe(5);
    expect([...counts.conversations].sort((a: any, b: any) => a.conversation_id.localeCompare(b.conversation_id))).toEqual(
      [
        { conversation_id: withBob, unread_count: 3, mention_count: 0, muted: false },
        { conversation_id: withCarol, unread_count: 2, mention_count: 0, muted: false },
      ].sort((a, b) => a.conversation_id.localeCompare(b.conversation_id)),
    );

    await markRead(alice!.token, fromBob[2].id);
    expect((await unread(alice!.token)).body).toEqual({ unread_count: 2, mention_count: 0, conversations: [{ conversation_id: withCarol, unread_count: 2, mention_count: 0, muted: false }] });
    expect((await unread(bob!.token)).body).toEqual({ unread_count: 4, mention_count: 0, conversations: [{ conversation_id: group, unread_count: 4, mention_count: 0, muted: false }] });
  });
});

describe.skipIf(sqliteOnly("writes by another process: the test writes the SQLite file with its own connection"))("writes by another process (an operator's sqlite3, a migration script) are seen, despite the in-memory caches", () => {
  test("rows and cursors changed outside the server show up in the next page, sends and is_read", async () => {
    const { alice, bob, dm } = await pair();
    await sendMany(alice.token, dm, 3);
    // Load every cache: the recent-messages window, conversation state, the user rows.
    expect(seqs(await page(alice.token, dm))).toEqual([1, 2, 3]);
    expect((await page(alice.token, dm)).body.every((m: any) => m.is_read === false)).toBe(true);

    const { Database } = await import("bun:sqlite");
    const { join } = await import("node:path");
    const { DB_FILE } = await import("../../src/db/data-dir");
    const outside = new Database(join(server.dataDir, DB_FILE));
    outside.run("PRAGMA busy_timeout = 5000");
    outside.transaction(() => {
      for (const seq of [4, 5]) {
        outside
          .query(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
          )
          .run(Bun.randomUUIDv7(), dm, seq, alice.user.id, bob.user.id, `imported ${seq}`, Date.now(), Date.now());
      }
      outside.query("UPDATE conversations SET last_seq = 5 WHERE id = ?").run(dm);
      outside.query("UPDATE members SET last_read_seq = 4 WHERE conversation_id = ? AND user_id = ?").run(dm, bob.user.id);
    })();
    outside.close();
    // The server re-reads SQLite's data_version at most once a millisecond.
    await Bun.sleep(5);

    const latest = await page(alice.token, dm);
    expect(seqs(latest)).toEqual([1, 2, 3, 4, 5]);
    expect(latest.body.map((m: any) => m.is_read)).toEqual([true, true, true, true, false]);
    expect(seqs(await page(alice.token, dm, "after=3"))).toEqual([4, 5]);
    // The next send continues after the imported rows instead of colliding with them.
    expect((await api.send(alice.token, dm, "after the import")).body.seq).toBe(6);
    expect(seqs(await page(bob.token, dm, "after=4"))).toEqual([5, 6]);
  });
});
