// Revisions (v2): every committed change takes its conversation's next rev, gap-free; a client that
// missed changes catches up with GET /changes?since_rev= or a socket sync with `revs`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client } from "../support/api";
import { expectConversationView, expectError, expectMessageView } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

async function group() {
  const [alice, bob, carol] = await Promise.all([api.newUser("ra"), api.newUser("rb"), api.newUser("rc")]);
  const created = await api.group(alice.token, "revs", [bob.user.id]);
  expect(created.status).toBe(201);
  return { alice, bob, carol, id: created.body.id as string };
}

const changes = (token: string, id: string, query: string) => api.get(`${API}/conversations/${id}/changes?${query}`, token);

describe("rev", () => {
  test("a new conversation is at rev 0; each message takes the next rev with its seq", async () => {
    const { alice, id } = await group();
    expect((await api.get(`${API}/conversations/${id}`, alice.token)).body.rev).toBe(0);
    for (let i = 1; i <= 3; i++) {
      const sent = await api.send(alice.token, id, `m${i}`);
      expectMessageView(sent.body);
      expect(sent.body).toMatchObject({ seq: i, rev: i, edited_at: null, deleted_at: null, reply_to_id: null, reply_count: 0, mentions: [], reactions: [] });
    }
    const conversation = await api.get(`${API}/conversations/${id}`, alice.token);
    expectConversationView(conversation.body, alice.user.id);
    expect(conversation.body.rev).toBe(3);
  });

  test("an idempotent repeat commits nothing: rev does not move", async () => {
    const { alice, id } = await group();
    await api.send(alice.token, id, "once", "k1");
    await api.send(alice.token, id, "once", "k1");
    expect((await api.get(`${API}/conversations/${id}`, alice.token)).body.rev).toBe(1);
  });

  test("a rename is a change: rev + 1, conversation_updated to members' sockets with that rev; the same name is none", async () => {
    const { alice, bob, id } = await group();
    await api.send(alice.token, id, "before");
    const bobSocket = await connect(server.url, bob.token);
    const renamed = await api.put(`${API}/conversations/${id}`, { name: "renamed" }, alice.token);
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "renamed", rev: 2 });
    const frame = await bobSocket.waitType("conversation_updated");
    expect(frame.rev).toBe(2);
    expectConversationView(frame.conversation, bob.user.id);
    expect(frame.conversation).toMatchObject({ id, name: "renamed", rev: 2 });
    expect((await api.put(`${API}/conversations/${id}`, { name: "renamed" }, alice.token)).body.rev).toBe(2);
    const next = await api.send(alice.token, id, "after");
    expect(next.body).toMatchObject({ seq: 2, rev: 3 });
    // Every frame about the conversation carries the rev of the change it reports.
    const message = await bobSocket.waitType("new_message");
    expect(message.rev).toBe(3);
    closeAll(bobSocket);
  });
});

describe("GET /conversations/{id}/changes", () => {
  test("messages after since_rev in rev order, the conversation when renamed after it, and the rev to resume from", async () => {
    const { alice, bob, id } = await group();
    for (let i = 1; i <= 3; i++) await api.send(alice.token, id, `m${i}`);
    const all = await changes(bob.token, id, "since_rev=0");
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ rev: 3, has_more: false, conversation: null });
    expect(all.body.messages.map((m: any) => m.seq)).toEqual([1, 2, 3]);
    for (const m of all.body.messages) expectMessageView(m);

    await api.put(`${API}/conversations/${id}`, { name: "new name" }, alice.token);
    const after = await changes(bob.token, id, "since_rev=3");
    expect(after.body).toMatchObject({ rev: 4, has_more: false, messages: [] });
    expectConversationView(after.body.conversation, bob.user.id);
    expect(after.body.conversation.name).toBe("new name");
    expect((await changes(bob.token, id, "since_rev=4")).body).toEqual({ rev: 4, has_more: false, conversation: null, messages: [] });
  });

  test("pages with has_more: resuming from rev gets every change exactly once", async () => {
    const { alice, bob, id } = await group();
    for (let i = 1; i <= 7; i++) await api.send(alice.token, id, `m${i}`);
    const seen: number[] = [];
    let rev = 0;
    for (let round = 0; round < 10; round++) {
      const page = await changes(bob.token, id, `since_rev=${rev}&limit=3`);
      seen.push(...page.body.messages.map((m: any) => m.seq));
      expect(page.body.rev).toBeGreaterThan(rev);
      rev = page.body.rev;
      if (!page.body.has_more) break;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rev).toBe(7);
  });

  test("a change bigger than limit (a reply and its parent share a rev) comes whole, so limit=1 still makes progress", async () => {
    const { alice, bob, id } = await group();
    await api.send(alice.token, id, "first");
    const parent = (await api.send(alice.token, id, "parent")).body;
    const reply = await api.post(`${API}/conversations/${id}/messages`, { content: "reply", reply_to_id: parent.id }, alice.token);
    expect(reply.body.rev).toBe(3);
    await api.send(alice.token, id, "last");
    const pages: { rev: number; has_more: boolean; seqs: number[] }[] = [];
    let rev = 1;
    for (let round = 0; round < 6; round++) {
      const page = (await changes(bob.token, id, `since_rev=${rev}&limit=1`)).body;
      pages.push({ rev: page.rev, has_more: page.has_more, seqs: page.messages.map((m: any) => m.seq) });
      rev = page.rev;
      if (!page.has_more) break;
    }
    // rev 3 holds the reply (seq 3) and its parent's new reply_count (seq 2), in one page.
    expect(pages).toEqual([
      { rev: 3, has_more: true, seqs: [2, 3] },
      { rev: 4, has_more: false, seqs: [4] },
    ]);
  });

  test("since_rev above the conversation's rev answers the real rev and the conversation to start again from", async () => {
    const { alice, bob, id } = await group();
    for (let i = 1; i <= 3; i++) await api.send(alice.token, id, `m${i}`);
    const ahead = await changes(bob.token, id, "since_rev=50");
    expect(ahead.status).toBe(200);
    expect(ahead.body).toMatchObject({ rev: 3, has_more: false, messages: [] });
    expectConversationView(ahead.body.conversation, bob.user.id);
    expect(ahead.body.conversation.rev).toBe(3);
  });

  test("a non-member gets 404 like a missing conversation; bad since_rev and limit are 422", async () => {
    const { alice, carol, id } = await group();
    expectError(await changes(carol.token, id, "since_rev=0"), 404);
    expectError(await changes(alice.token, Bun.randomUUIDv7(), "since_rev=0"), 404);
    expectError(await changes(alice.token, id, "since_rev=-1"), 422, { field: "since_rev" });
    expectError(await changes(alice.token, id, "since_rev=0&limit=501"), 422, { field: "limit" });
    expectError(await api.get(`${API}/conversations/${id}/changes`), 401);
  });
});

describe("socket sync with revs", () => {
  test("answers each listed conversation behind the server with a changes frame, then sync_done", async () => {
    const { alice, bob, id } = await group();
    for (let i = 1; i <= 2; i++) await api.send(alice.token, id, `m${i}`);
    await api.put(`${API}/conversations/${id}`, { name: "while away" }, alice.token);
    const socket = await connect(server.url, bob.token);
    socket.send({ type: "sync", since: {}, revs: { [id]: 1 } });
    const frame = await socket.waitType("changes");
    expect(frame).toMatchObject({ conversation_id: id, rev: 3 });
    expect(frame.messages.map((m: any) => m.seq)).toEqual([2]);
    expect(frame.conversation.name).toBe("while away");
    expect((await socket.waitType("sync_done")).has_more).toBe(false);
    // Up to date: no changes frame, just sync_done.
    const from = socket.frames.length;
    socket.send({ type: "sync", revs: { [id]: 3 } });
    await socket.waitFor((f) => f.type === "sync_done", 5000, from);
    await barrier(socket);
    expect(socket.frames.slice(from).filter((f) => f.type === "changes")).toHaveLength(0);
    // A malformed revs is an error frame naming it; the socket stays open.
    const bad = socket.frames.length;
    socket.send({ type: "sync", revs: { [id]: -2 } });
    const error = await socket.waitFor((f) => f.type === "error", 5000, bad);
    expect(error.detail).toContain("revs");
    await barrier(socket);
    closeAll(socket);
  });

  test("with since and revs, each missed message comes once: new messages as new_message, older changed ones in changes", async () => {
    const { alice, bob, id } = await group();
    const first = await api.send(alice.token, id, "first");
    await api.send(alice.token, id, "second");
    await api.send(alice.token, id, "third");
    const edited = await api.request("PATCH", `${API}/messages/${first.body.id}`, { token: alice.token, body: { content: "first, edited" } });
    expect(edited.status).toBe(200);
    await api.request("PUT", `${API}/messages/${(await api.send(alice.token, id, "fourth")).body.id}/reactions/${encodeURIComponent("👍")}`, { token: bob.token });
    // Bob's device saw message 1 at rev 1, then went offline.
    const socket = await connect(server.url, bob.token);
    socket.send({ type: "sync", since: { [id]: 1 }, revs: { [id]: 1 } });
    await socket.waitType("sync_done");
    const fresh = socket.frames.filter((f) => f.type === "new_message");
    expect(fresh.map((f) => f.message.seq)).toEqual([2, 3, 4]);
    expect(fresh.map((f) => f.rev)).toEqual([2, 3, 6]);
    // The new_message of a message reacted to since carries its reactions, for this reader.
    expect(fresh[2]!.message.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    const changed = socket.frames.filter((f) => f.type === "changes");
    expect(changed).toHaveLength(1);
    expect(changed[0]!.rev).toBe(6);
    expect(changed[0]!.messages.map((m: any) => [m.seq, m.content])).toEqual([[1, "first, edited"]]);
    closeAll(socket);
  });
});
