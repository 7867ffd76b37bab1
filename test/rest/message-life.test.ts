// REST: message life (issue 13): edit, delete (tombstones), reactions, replies, mentions, unread
// counts with mentions and muting, delivery receipts; rev grows by exactly one per change and not
// at all for a request that changes nothing; /changes converges a client that missed changes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { API, type Api, client, randomUuid, restHistory, userNamed, type TestUser } from "../support/api";
import { expectError, expectMessageView } from "../support/expect";
import { propertyParams } from "../support/property";
import { rawRequest } from "../support/raw-http";
import { startTestServer, type TestServer } from "../support/server";
import { sqlNumber, sqlRun } from "../support/sql";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`ml${i}`)));
const edit = (token: string, id: string, content: unknown) => api.request("PATCH", `${API}/messages/${id}`, { token, body: { content } });
const del = (token: string, id: string) => api.request("DELETE", `${API}/messages/${id}`, { token });
const react = (token: string, id: string, emoji: string, on = true) =>
  api.request(on ? "PUT" : "DELETE", `${API}/messages/${id}/reactions/${encodeURIComponent(emoji)}`, { token });
const convRev = async (token: string, id: string) => (await api.get(`${API}/conversations/${id}`, token)).body.rev as number;
const reply = (token: string, conversationId: string, content: string, replyTo: unknown) =>
  api.post(`${API}/conversations/${conversationId}/messages`, { content, reply_to_id: replyTo }, token);
const unread = async (token: string) => (await api.get(`${API}/messages/unread/count`, token)).body;

async function group(n: number) {
  const people = await users(n);
  const res = await api.group(people[0]!.token, "life", people.slice(1).map((p) => p.user.id));
  expect(res.status).toBe(201);
  return { people, id: res.body.id as string };
}

describe("PATCH /messages/{id}", () => {
  test("the sender edits: content, edited_at, a new rev, mentions recomputed", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const sent = (await api.send(a.token, id, "hello")).body;
    const before = await convRev(a.token, id);
    const res = await edit(a.token, sent.id, `  hi @${b.user.username}  `);
    expect(res.status).toBe(200);
    expectMessageView(res.body);
    expect(res.body).toMatchObject({ id: sent.id, seq: sent.seq, content: `hi @${b.user.username}`, rev: before + 1, mentions: [b.user.id] });
    expect(res.body.edited_at).not.toBeNull();
    expect(await convRev(a.token, id)).toBe(before + 1);
    const page = (await api.get(`${API}/conversations/${id}/messages`, b.token)).body;
    expect(page.at(-1)).toMatchObject({ id: sent.id, content: `hi @${b.user.username}`, mentions: [b.user.id] });
  });

  test("the same content again changes nothing: no rev, edited_at unchanged", async () => {
    const { people, id } = await group(2);
    const sent = (await api.send(people[0]!.token, id, "same")).body;
    const before = await convRev(people[0]!.token, id);
    const res = await edit(people[0]!.token, sent.id, " same ");
    expect(res.status).toBe(200);
    expect(res.body.edited_at).toBeNull();
    expect(res.body.rev).toBe(sent.rev);
    expect(await convRev(people[0]!.token, id)).toBe(before);
  });

  test("another member gets 403, a non-member 404, bad content 422, a tombstone 404", async () => {
    const { people, id } = await group(2);
    const [outsider] = await users(1);
    const sent = (await api.send(people[0]!.token, id, "mine")).body;
    expectError(await edit(people[1]!.token, sent.id, "x"), 403, { code: "forbidden" });
    expectError(await edit(outsider!.token, sent.id, "x"), 404);
    expectError(await edit(people[0]!.token, randomUuid(), "x"), 404);
    expectError(await edit(people[0]!.token, sent.id, "   "), 422, { field: "content" });
    expectError(await edit(people[0]!.token, sent.id, "x".repeat(4001)), 422, { field: "content" });
    expectError(await api.request("PATCH", `${API}/messages/${sent.id}`, { token: people[0]!.token, body: { content: "x", seq: 3 } }), 422);
    expect((await del(people[0]!.token, sent.id)).status).toBe(204);
    expectError(await edit(people[0]!.token, sent.id, "back"), 404);
  });
});

describe("DELETE /messages/{id}", () => {
  test("a tombstone keeps id and seq (no gaps), drops content, reactions and mentions, keeps reply_to_id", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const first = (await api.send(a.token, id, "first")).body;
    const second = (await reply(a.token, id, `@${b.user.username} answer`, first.id)).body;
    await api.send(a.token, id, "third");
    expect((await react(b.token, second.id, "👍")).status).toBe(200);
    const before = await convRev(a.token, id);
    const res = await del(a.token, second.id);
    expect(res.status).toBe(204);
    expect(await convRev(a.token, id)).toBe(before + 1);
    const history = await restHistory(api, b.token, id);
    expect(history.map((m) => m.seq)).toEqual([1, 2, 3]);
    const tomb = history[1];
    expectMessageView(tomb);
    expect(tomb).toMatchObject({ id: second.id, seq: 2, content: "", reactions: [], mentions: [], reply_to_id: first.id, rev: before + 1 });
    expect(tomb.deleted_at).not.toBeNull();
    // Deleting twice changes nothing.
    expect((await del(a.token, second.id)).status).toBe(204);
    expect(await convRev(a.token, id)).toBe(before + 1);
  });

  test("repeating a deleted message's client_msg_id returns the tombstone (200), not a new copy", async () => {
    const { people, id } = await group(2);
    const sent = (await api.send(people[0]!.token, id, "once", "cmid-1")).body;
    await del(people[0]!.token, sent.id);
    const again = await api.send(people[0]!.token, id, "once", "cmid-1");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: sent.id, seq: sent.seq, content: "" });
    expect(again.body.deleted_at).not.toBeNull();
    expect(await restHistory(api, people[0]!.token, id)).toHaveLength(1);
  });

  test("a DELETE without a body or Content-Length (what browsers send) is a 204, not a parse error", async () => {
    const { people, id } = await group(2);
    const m = (await api.send(people[0]!.token, id, "bye")).body;
    const url = new URL(server.url);
    for (const path of [`${API}/messages/${m.id}/reactions/%F0%9F%91%8D`, `${API}/messages/${m.id}`]) {
      const res = await rawRequest(Number(url.port), { method: "DELETE", path, host: url.host, headers: { Authorization: `Bearer ${people[0]!.token}` } });
      expect(res.status, `${path} ${res.body}`).toBeOneOf([200, 204]);
    }
  });

  test("owners and admins of a group delete others' messages; members and DM partners get 403", async () => {
    const { people, id } = await group(3);
    const [owner, m1, m2] = people as [TestUser, TestUser, TestUser];
    const byM1 = (await api.send(m1.token, id, "by m1")).body;
    expectError(await del(m2.token, byM1.id), 403, { code: "forbidden" });
    const ownerMsg = (await api.send(owner.token, id, "by owner")).body;
    expectError(await del(m1.token, ownerMsg.id), 403, { code: "forbidden" });
    expect((await del(owner.token, byM1.id)).status).toBe(204);
    await sqlRun(server, "UPDATE members SET role = 'admin' WHERE conversation_id = ? AND user_id = ?", id, m2.user.id);
    const another = (await api.send(m1.token, id, "again")).body;
    expect((await del(m2.token, another.id)).status).toBe(204);
    const dm = (await api.dm(owner.token, m1.user.id)).body;
    const dmMsg = (await api.send(owner.token, dm.id, "dm")).body;
    expectError(await del(m1.token, dmMsg.id), 403);
    const [outsider] = await users(1);
    expectError(await del(outsider!.token, dmMsg.id), 404);
  });
});

describe("reactions", () => {
  test("add and remove are idempotent; rev moves only on a change; me is per reader", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const m = (await api.send(a.token, id, "react to me")).body;
    let rev = await convRev(a.token, id);
    const added = await react(b.token, m.id, "👍");
    expect(added.status).toBe(200);
    expectMessageView(added.body);
    expect(added.body.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect(await convRev(a.token, id)).toBe(++rev);
    expect((await react(b.token, m.id, "👍")).body.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect(await convRev(a.token, id)).toBe(rev);
    const byA = await react(a.token, m.id, "👍");
    expect(byA.body.reactions).toEqual([{ emoji: "👍", count: 2, me: true }]);
    expect(await convRev(a.token, id)).toBe(++rev);
    const removed = await react(b.token, m.id, "👍", false);
    expect(removed.body.reactions).toEqual([{ emoji: "👍", count: 1, me: false }]);
    expect(await convRev(a.token, id)).toBe(++rev);
    expect((await react(b.token, m.id, "👍", false)).status).toBe(200);
    expect(await convRev(a.token, id)).toBe(rev);
    const page = (await api.get(`${API}/conversations/${id}/messages`, a.token)).body;
    expect(page.at(-1).reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
  });

  test("emoji: one grapheme (ZWJ, skin tone, flag, keycap) or :name:; anything else 422 naming emoji", async () => {
    const { people, id } = await group(2);
    const m = (await api.send(people[0]!.token, id, "x")).body;
    for (const ok of ["❤️", "👩🏽‍💻", "🏳️‍🌈", "🇫🇷", "1️⃣", "👍🏿", ":thumbsup:", ":+1:", ":a_b-c:"]) {
      const res = await react(people[0]!.token, m.id, ok);
      expect(res.status, ok).toBe(200);
      expect(res.body.reactions.map((r: any) => r.emoji)).toContain(ok);
    }
    for (const bad of ["a", "👍👍", "1", ":Upper:", "::", ":" + "a".repeat(31) + ":", "👍a", " ", "<b>", ":a b:"]) {
      expectError(await react(people[0]!.token, m.id, bad), 422, { field: "emoji", context: bad });
    }
  });

  test("at most 20 distinct emoji per message; none on a tombstone; non-members 404", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const m = (await api.send(a.token, id, "many")).body;
    for (let i = 0; i < 20; i++) expect((await react(a.token, m.id, `:e${i}:`)).status).toBe(200);
    expectError(await react(b.token, m.id, ":e20:"), 422, { field: "emoji" });
    // An emoji already there may still be added by someone else.
    expect((await react(b.token, m.id, ":e3:")).body.reactions.find((r: any) => r.emoji === ":e3:")).toEqual({ emoji: ":e3:", count: 2, me: true });
    const [outsider] = await users(1);
    expectError(await react(outsider!.token, m.id, "👍"), 404);
    expect((await del(a.token, m.id)).status).toBe(204);
    expectError(await react(b.token, m.id, "👍"), 404);
    expect(await sqlNumber(server, "SELECT count(*) AS n FROM reactions WHERE message_id = ?", m.id)).toBe(0);
  });
});

describe("replies", () => {
  test("reply_to_id grows the parent's reply_count in the same rev; ?reply_to= lists the replies", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const parent = (await api.send(a.token, id, "question")).body;
    await api.send(a.token, id, "unrelated");
    const r1 = await reply(b.token, id, "answer 1", parent.id);
    expect(r1.status).toBe(201);
    expect(r1.body.reply_to_id).toBe(parent.id);
    const r2 = (await reply(a.token, id, "answer 2", parent.id.toUpperCase())).body;
    expect(r2.reply_to_id).toBe(parent.id);
    const replies = await api.get(`${API}/conversations/${id}/messages?reply_to=${parent.id}`, a.token);
    expect(replies.status).toBe(200);
    expect(replies.body.map((m: any) => m.id)).toEqual([r1.body.id, r2.id]);
    expect((await api.get(`${API}/conversations/${id}/messages?reply_to=${parent.id}&after=${r1.body.seq}`, a.token)).body.map((m: any) => m.id)).toEqual([r2.id]);
    expect((await api.get(`${API}/conversations/${id}/messages?reply_to=${parent.id}&limit=1`, a.token)).body.map((m: any) => m.id)).toEqual([r2.id]);
    expect((await api.get(`${API}/conversations/${id}/messages?reply_to=${parent.id}&before=${r2.seq}`, a.token)).body.map((m: any) => m.id)).toEqual([r1.body.id]);
    const history = await restHistory(api, a.token, id);
    expect(history[0]).toMatchObject({ id: parent.id, reply_count: 2, rev: r2.rev });
    // The parent changed with the reply: /changes since the reply's rev - 1 has both.
    const changes = (await api.get(`${API}/conversations/${id}/changes?since_rev=${r2.rev - 1}`, a.token)).body;
    expect(changes.messages.map((m: any) => m.id).sort()).toEqual([parent.id, r2.id].sort());
    expect(changes.rev).toBe(r2.rev);
  });

  test("reply_to_id must be a live message of the same conversation, else 422 naming it", async () => {
    const { people, id } = await group(2);
    const other = (await api.group(people[0]!.token, "other", [people[1]!.user.id])).body;
    const elsewhere = (await api.send(people[0]!.token, other.id, "elsewhere")).body;
    const gone = (await api.send(people[0]!.token, id, "gone")).body;
    await del(people[0]!.token, gone.id);
    for (const bad of [elsewhere.id, randomUuid(), gone.id]) {
      expectError(await reply(people[0]!.token, id, "r", bad), 422, { field: "reply_to_id" });
    }
    expectError(await reply(people[0]!.token, id, "r", "not-a-uuid"), 422, { field: "reply_to_id" });
    expectError(await api.get(`${API}/conversations/${id}/messages?reply_to=${elsewhere.id}`, people[0]!.token), 422, { field: "reply_to" });
  });
});

describe("mentions and unread counts", () => {
  test("@username of members, case-insensitive, not in addresses, trailing punctuation dropped", async () => {
    const tagged = `m${Date.now().toString(36)}`;
    const a = await userNamed(api, `${tagged}_ann`);
    const b = await userNamed(api, `${tagged}.bob`);
    const [outsider] = await users(1);
    const g = (await api.group(a.token, "mentions", [b.user.id])).body;
    const cases: [string, string[]][] = [
      [`hi @${tagged.toUpperCase()}.BOB!`, [b.user.id]],
      [`@${tagged}_ann and @${tagged}.bob.`, [a.user.id, b.user.id]],
      [`mail ${tagged}.bob@example.com or x@${tagged}.bob`, []],
      [`@${tagged}.bob@example.com`, []],
      [`@${outsider!.user.username} is not here`, []],
      [`(@${tagged}.bob) twice @${tagged}.bob`, [b.user.id]],
      ["no at sign", []],
    ];
    for (const [content, mentions] of cases) {
      const res = await api.send(a.token, g.id, content);
      expect(res.body.mentions, content).toEqual(mentions);
    }
  });

  test("mention_count per conversation and total; muted conversations keep their entry, leave the unread total, keep mentions", async () => {
    const { people, id } = await group(2);
    const [a, b] = people as [TestUser, TestUser];
    const other = (await api.group(a.token, "loud", [b.user.id])).body;
    await api.send(a.token, id, `hey @${b.user.username}`);
    await api.send(a.token, id, "plain");
    const mine = (await api.send(b.token, id, `me @${b.user.username}`)).body;
    await api.send(a.token, other.id, "other");
    let counts = await unread(b.token);
    expect(counts).toEqual({
      unread_count: 3,
      mention_count: 1,
      conversations: expect.arrayContaining([
        { conversation_id: id, unread_count: 2, mention_count: 1, muted: false },
        { conversation_id: other.id, unread_count: 1, mention_count: 0, muted: false },
      ]),
    });
    expect(counts.conversations).toHaveLength(2);
    expect(mine.mentions).toEqual([b.user.id]);
    // Muted (forever, then until a time ahead): entry kept, left out of the unread total, mentions counted.
    await sqlRun(server, "UPDATE members SET muted = TRUE WHERE conversation_id = ? AND user_id = ?", id, b.user.id);
    counts = await unread(b.token);
    expect(counts.unread_count).toBe(1);
    expect(counts.mention_count).toBe(1);
    expect(counts.conversations).toContainEqual({ conversation_id: id, unread_count: 2, mention_count: 1, muted: true });
    await sqlRun(server, "UPDATE members SET muted_until = ? WHERE conversation_id = ? AND user_id = ?", Date.now() + 3_600_000, id, b.user.id);
    expect((await unread(b.token)).unread_count).toBe(1);
    // A mute that has expired no longer mutes.
    await sqlRun(server, "UPDATE members SET muted_until = ? WHERE conversation_id = ? AND user_id = ?", Date.now() - 1000, id, b.user.id);
    expect((await unread(b.token)).unread_count).toBe(3);
    // Editing the mention away or deleting the message drops the mention; tombstones are not unread.
    const list = (await api.get(`${API}/conversations/${id}/messages`, b.token)).body;
    await edit(a.token, list[0].id, "no mention now");
    expect((await unread(b.token)).mention_count).toBe(0);
    await del(a.token, list[1].id);
    expect((await unread(b.token)).conversations).toContainEqual({ conversation_id: id, unread_count: 1, mention_count: 0, muted: false });
  });
});

describe("delivery receipts", () => {
  test("PUT received moves forward only, never beyond last_seq; read implies delivered; GET receipts lists all", async () => {
    const { people, id } = await group(3);
    const [a, b, c] = people as [TestUser, TestUser, TestUser];
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push((await api.send(a.token, id, `m${i}`)).body);
    const received = (seq: number, who = b) => api.put(`${API}/conversations/${id}/received`, { seq }, who.token);
    expect((await received(2)).body).toEqual({ conversation_id: id, user_id: b.user.id, last_delivered_seq: 2 });
    expect((await received(1)).body.last_delivered_seq).toBe(2);
    expect((await received(99)).body.last_delivered_seq).toBe(4);
    await api.put(`${API}/messages/${sent[2].id}/read`, {}, c.token);
    const receipts = await api.get(`${API}/conversations/${id}/receipts`, a.token);
    expect(receipts.status).toBe(200);
    const byUser = (list: any[]) => [...list].sort((x, y) => x.user_id.localeCompare(y.user_id));
    expect(byUser(receipts.body)).toEqual(
      byUser([
        { user_id: a.user.id, last_read_seq: 0, last_delivered_seq: 0 },
        { user_id: b.user.id, last_read_seq: 0, last_delivered_seq: 4 },
        { user_id: c.user.id, last_read_seq: 3, last_delivered_seq: 3 },
      ]),
    );
    const [outsider] = await users(1);
    expectError(await api.get(`${API}/conversations/${id}/receipts`, outsider!.token), 404);
    expectError(await api.put(`${API}/conversations/${id}/received`, { seq: 1 }, outsider!.token), 404);
    expectError(await received(-1), 422, { field: "seq" });
    expectError(await api.put(`${API}/conversations/${id}/received`, { seq: "x" }, b.token), 422, { field: "seq" });
    // Receipts are not revisions.
    const rev = await convRev(a.token, id);
    await received(4, c);
    expect(await convRev(a.token, id)).toBe(rev);
  });
});

/** A client's copy of one conversation, kept with GET /changes only. */
async function catchUp(token: string, id: string, copy: Map<string, any>, rev: number) {
  for (;;) {
    const res = await api.get(`${API}/conversations/${id}/changes?since_rev=${rev}&limit=7`, token);
    expect(res.status).toBe(200);
    for (const m of res.body.messages) copy.set(m.id, m);
    expect(res.body.rev).toBeGreaterThanOrEqual(rev);
    rev = res.body.rev;
    if (!res.body.has_more) return rev;
  }
}

const strip = ({ is_read: _r, ...m }: any) => m;

describe("convergence", () => {
  test("property: random sends, replies, edits, deletes and reactions; /changes converges an offline client to the pages exactly", async () => {
    const { people, id } = await group(3);
    const op = fc.oneof(
      fc.record({ kind: fc.constant("send"), who: fc.nat(2), text: fc.string({ minLength: 1, maxLength: 8 }), replyTo: fc.option(fc.nat(50)) }),
      fc.record({ kind: fc.constant("edit"), who: fc.nat(2), target: fc.nat(50), text: fc.constantFrom("a", "b", "@x", "c") }),
      fc.record({ kind: fc.constant("delete"), who: fc.nat(2), target: fc.nat(50) }),
      fc.record({ kind: fc.constant("react"), who: fc.nat(2), target: fc.nat(50), emoji: fc.constantFrom("👍", "🎉", ":ok:"), on: fc.boolean() }),
    );
    // The observer (people[2]) syncs between some of the rounds: its copy is built only from /changes.
    const copy = new Map<string, any>();
    let rev = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const ids = (await restHistory(api, people[0]!.token, id)).map((m) => m.id);
        const pick = (n: number) => ids[n % Math.max(1, ids.length)];
        let expectedRev = await convRev(people[0]!.token, id);
        for (const o of ops as any[]) {
          const who = people[o.who]!;
          const target = pick(o.target ?? 0);
          let res;
          if (o.kind === "send" || !target) {
            const replyTo = o.replyTo != null && ids.length ? pick(o.replyTo) : undefined;
            res = await reply(who.token, id, o.text?.trim() ? o.text : "x", replyTo);
            if (res.status === 201) ids.push(res.body.id);
            else expect(res.status).toBe(422); // a reply to a tombstone
          } else if (o.kind === "edit") res = await edit(who.token, target, o.text);
          else if (o.kind === "delete") res = await del(who.token, target);
          else res = await react(who.token, target, o.emoji, o.on);
          expect([200, 201, 204, 403, 404, 422]).toContain(res.status);
          // Exactly one rev per change, none for a no-op or a refusal.
          const now = await convRev(people[0]!.token, id);
          expect(now - expectedRev).toBeLessThanOrEqual(1);
          if (res.status >= 400) expect(now).toBe(expectedRev);
          expectedRev = now;
        }
        rev = await catchUp(people[2]!.token, id, copy, rev);
        expect(rev).toBe(expectedRev);
        const truth = await restHistory(api, people[2]!.token, id);
        const mine = [...copy.values()].sort((x, y) => x.seq - y.seq);
        expect(mine.map((m) => m.seq)).toEqual(truth.map((_, i) => i + 1));
        expect(mine.map(strip)).toEqual(truth.map(strip));
      }),
      propertyParams("message life converges through /changes", { numRuns: 12 }),
    );
  }, 120_000);
});
