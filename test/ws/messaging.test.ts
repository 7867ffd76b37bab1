// Sending over the socket (ack, fan-out, direct conversations by recipient_id, idempotency shared with
// REST), read receipts, typing, ping and presence, each checked on every device of every member.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client, type TestUser } from "../support/api";
import { expectExactKeys, expectMessageView, ISO_MS } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, devices, newMessages, type TestSocket } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

async function pair() {
  const alice = await api.newUser("alice");
  const bob = await api.newUser("bob");
  const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
  return { alice, bob, dm };
}

async function until(condition: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("message", () => {
  test("the sender gets message_ack, then new_message reaches every device of both members", async () => {
    const { alice, bob, dm } = await pair();
    const [a1, a2] = await devices(server, alice, 2);
    const [b1, b2] = await devices(server, bob, 2);
    a1!.send({ type: "message", conversation_id: dm, content: "  hello bob  ", client_msg_id: "m-1" });
    const ack = await a1!.waitType("message_ack");
    // v1's keys plus v2's rev (every frame about a conversation carries the rev of its change).
    expectExactKeys(ack, ["client_msg_id", "message", "rev", "type"]);
    expect(ack.rev).toBe(ack.message.rev);
    expect(ack.client_msg_id).toBe("m-1");
    expectMessageView(ack.message);
    expect(ack.message).toMatchObject({
      conversation_id: dm,
      sender_id: alice.user.id,
      recipient_id: bob.user.id,
      content: "hello bob",
      seq: 1,
      client_msg_id: "m-1",
      is_read: false,
    });
    expect(ack.message.created_at).toMatch(ISO_MS);
    const mine = await a1!.waitType("new_message");
    expect(a1!.frames.indexOf(ack)).toBeLessThan(a1!.frames.indexOf(mine));
    for (const s of [a1!, a2!, b1!, b2!]) {
      const event = await s.waitType("new_message");
      expect(event).toEqual({ type: "new_message", message: ack.message, rev: ack.message.rev, timestamp: expect.stringMatching(ISO_MS) });
    }
    await barrier(a1!, a2!, b1!, b2!);
    for (const s of [a1!, a2!, b1!, b2!]) expect(newMessages(s)).toHaveLength(1);
    // Only the sending socket is acknowledged.
    for (const s of [a2!, b1!, b2!]) expect(s.ofType("message_ack")).toHaveLength(0);
    // What the socket carried is what REST stores.
    const history = await api.get(`/api/v1/conversations/${dm}/messages`, bob.token);
    expect(history.body).toEqual([ack.message]);
    closeAll(a1!, a2!, b1!, b2!);
  });

  test("without a client_msg_id the ack carries client_msg_id null; seqs follow send order", async () => {
    const { alice, bob, dm } = await pair();
    const a = await connect(server.url, alice.token);
    const b = await connect(server.url, bob.token);
    for (let i = 0; i < 5; i++) a.send({ type: "message", conversation_id: dm, content: `n${i}` });
    await until(() => a.ofType("message_ack").length === 5);
    const acks = a.ofType("message_ack");
    for (const ack of acks) expect(ack.client_msg_id).toBeNull();
    expect(acks.map((f) => f.message.content)).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    expect(acks.map((f) => f.message.seq)).toEqual([1, 2, 3, 4, 5]);
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === 5);
    expect(newMessages(b).map((f) => f.message.seq)).toEqual([1, 2, 3, 4, 5]);
    closeAll(a, b);
  });

  test("recipient_id without conversation_id creates the direct conversation and reaches the recipient's open socket", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    // Both sockets opened before the conversation exists.
    const [a1, a2] = await devices(server, alice, 2);
    const b = await connect(server.url, bob.token);
    a1!.send({ type: "message", recipient_id: bob.user.id, content: "first contact", client_msg_id: "r-1" });
    const ack = await a1!.waitType("message_ack");
    expect(ack.message.recipient_id).toBe(bob.user.id);
    expect(ack.message.seq).toBe(1);
    const got = await b.waitType("new_message");
    expect(got.message).toEqual(ack.message);
    await a2!.waitType("new_message");
    // The second one finds the same conversation.
    a1!.send({ type: "message", recipient_id: bob.user.id, content: "again", client_msg_id: "r-2" });
    const second = await a1!.waitFor((f) => f.type === "message_ack" && f.client_msg_id === "r-2");
    expect(second.message.conversation_id).toBe(ack.message.conversation_id);
    expect(second.message.seq).toBe(2);
    // And the recipient answering by recipient_id lands there too.
    b.send({ type: "message", recipient_id: alice.user.id, content: "hi back" });
    const reply = await b.waitType("message_ack");
    expect(reply.message.conversation_id).toBe(ack.message.conversation_id);
    await a2!.waitFor((f) => f.type === "new_message" && f.message.seq === 3);
    // It is the same direct conversation REST knows, and there is only one.
    const viaRest = await api.dm(alice.token, bob.user.id);
    expect(viaRest.status).toBe(200);
    expect(viaRest.body.id).toBe(ack.message.conversation_id);
    const list = await api.get("/api/v1/conversations", bob.token);
    expect(list.body.map((c: any) => c.id)).toEqual([ack.message.conversation_id]);
    closeAll(a1!, a2!, b);
  });

  test("recipient_id is ignored when conversation_id is given", async () => {
    const { alice, bob, dm } = await pair();
    const carol = await api.newUser("carol");
    const a = await connect(server.url, alice.token);
    a.send({ type: "message", conversation_id: dm, recipient_id: carol.user.id, content: "to the dm" });
    const ack = await a.waitType("message_ack");
    expect(ack.message.conversation_id).toBe(dm);
    expect(ack.message.recipient_id).toBe(bob.user.id);
    a.close();
  });
});

describe("ids in frames", () => {
  test("are case-insensitive like REST's: upper-case conversation_id, recipient_id, message_id and reply_to_id work", async () => {
    const { alice, bob, dm } = await pair();
    const [sa, sb] = [await connect(server.url, alice.token), await connect(server.url, bob.token)];
    sa.send({ type: "message", conversation_id: dm.toUpperCase(), content: "upper", client_msg_id: "u1" });
    const first = (await sa.waitType("message_ack")).message;
    expect(first).toMatchObject({ conversation_id: dm, content: "upper" });
    sa.send({ type: "message", recipient_id: bob.user.id.toUpperCase(), content: "by recipient", client_msg_id: "u2", reply_to_id: first.id.toUpperCase() });
    await sa.waitFor((f) => f.type === "message_ack" && f.client_msg_id === "u2");
    const second = sa.ofType("message_ack")[1]!.message;
    expect(second).toMatchObject({ conversation_id: dm, reply_to_id: first.id });
    sb.send({ type: "typing", conversation_id: dm.toUpperCase() });
    expect((await sa.waitType("user_typing")).conversation_id).toBe(dm);
    sb.send({ type: "mark_read", message_id: second.id.toUpperCase() });
    expect((await sa.waitType("message_read")).last_read_seq).toBe(2);
    await barrier(sb);
    expect(sb.ofType("error")).toEqual([]);
    closeAll(sa, sb);
  });
});

describe("idempotency", () => {
  async function threeSockets() {
    const { alice, bob, dm } = await pair();
    const [a1, a2] = await devices(server, alice, 2);
    const b = await connect(server.url, bob.token);
    return { alice, bob, dm, a1: a1!, a2: a2!, b, all: [a1!, a2!, b] };
  }

  test("resending a client_msg_id over the socket acks the original and publishes nothing twice", async () => {
    const { alice, dm, a1, all } = await threeSockets();
    a1.send({ type: "message", conversation_id: dm, content: "once", client_msg_id: "dup" });
    const first = await a1.waitType("message_ack");
    await barrier(...all);
    const from = a1.frames.length;
    a1.send({ type: "message", conversation_id: dm, content: "once, changed on retry", client_msg_id: "dup" });
    const second = await a1.waitFor((f) => f.type === "message_ack", 5000, from);
    expect(second.client_msg_id).toBe("dup");
    expect(second.message).toEqual(first.message);
    await barrier(...all);
    for (const s of all) expect(newMessages(s, dm)).toHaveLength(1);
    const history = await api.get(`/api/v1/conversations/${dm}/messages`, alice.token);
    expect(history.body.map((m: any) => m.content)).toEqual(["once"]);
    closeAll(...all);
  });

  test("the same client_msg_id twice in one burst is stored once", async () => {
    const { alice, dm, a1, all } = await threeSockets();
    a1.send({ type: "message", conversation_id: dm, content: "burst", client_msg_id: "burst" });
    a1.send({ type: "message", conversation_id: dm, content: "burst", client_msg_id: "burst" });
    await until(() => a1.ofType("message_ack").length === 2);
    const [x, y] = a1.ofType("message_ack");
    expect(y!.message.id).toBe(x!.message.id);
    await barrier(...all);
    for (const s of all) expect(newMessages(s, dm)).toHaveLength(1);
    expect((await api.get(`/api/v1/conversations/${dm}/messages`, alice.token)).body).toHaveLength(1);
    closeAll(...all);
  });

  test("a REST send then the same client_msg_id over the socket: the original, no second new_message", async () => {
    const { alice, dm, a1, all } = await threeSockets();
    const rest = await api.send(alice.token, dm, "via rest", "shared-1");
    expect(rest.status).toBe(201);
    await Promise.all(all.map((s) => s.waitType("new_message")));
    a1.send({ type: "message", conversation_id: dm, content: "via socket", client_msg_id: "shared-1" });
    const ack = await a1.waitType("message_ack");
    expect(ack.message).toEqual(rest.body);
    await barrier(...all);
    for (const s of all) expect(newMessages(s, dm)).toHaveLength(1);
    closeAll(...all);
  });

  test("a socket send then the same client_msg_id over REST: 200 with the original, no second new_message", async () => {
    const { alice, dm, a1, all } = await threeSockets();
    a1.send({ type: "message", conversation_id: dm, content: "via socket", client_msg_id: "shared-2" });
    const ack = await a1.waitType("message_ack");
    const rest = await api.send(alice.token, dm, "via rest", "shared-2");
    expect(rest.status).toBe(200);
    expect(rest.body.id).toBe(ack.message.id);
    expect(rest.body.content).toBe("via socket");
    await barrier(...all);
    for (const s of all) expect(newMessages(s, dm)).toHaveLength(1);
    closeAll(...all);
  });

  test("a repeat acked after the message was read carries its current is_read, as REST's repeat does", async () => {
    const { alice, bob, dm, a1, all } = await threeSockets();
    a1.send({ type: "message", conversation_id: dm, content: "read me", client_msg_id: "read-then-retry" });
    const first = await a1.waitType("message_ack");
    expect(first.message.is_read).toBe(false);
    expect((await api.put(`/api/v1/messages/${first.message.id}/read`, {}, bob.token)).status).toBe(200);
    const from = a1.frames.length;
    a1.send({ type: "message", conversation_id: dm, content: "read me", client_msg_id: "read-then-retry" });
    const again = await a1.waitFor((f) => f.type === "message_ack", 5000, from);
    const rest = await api.send(alice.token, dm, "read me", "read-then-retry");
    expect(rest.status).toBe(200);
    expect(again.message).toEqual(rest.body);
    expect(again.message).toEqual({ ...first.message, is_read: true });
    closeAll(...all);
  });

  test("a client_msg_id is the sender's own: the other member reusing it sends a new message", async () => {
    const { dm, a1, b, all } = await threeSockets();
    a1.send({ type: "message", conversation_id: dm, content: "from alice", client_msg_id: "same" });
    const mine = await a1.waitType("message_ack");
    b.send({ type: "message", conversation_id: dm, content: "from bob", client_msg_id: "same" });
    const theirs = await b.waitType("message_ack");
    expect(theirs.message.id).not.toBe(mine.message.id);
    expect(theirs.message.seq).toBe(2);
    await a1.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
    closeAll(...all);
  });
});

describe("mark_read", () => {
  test("other members get message_read; the cursor only moves forward", async () => {
    const { alice, bob, dm } = await pair();
    const [a1, a2] = await devices(server, alice, 2);
    const b = await connect(server.url, bob.token);
    const m1 = (await api.send(alice.token, dm, "one")).body;
    const m2 = (await api.send(alice.token, dm, "two")).body;
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
    b.send({ type: "mark_read", message_id: m2.id });
    for (const s of [a1!, a2!]) {
      const read = await s.waitType("message_read");
      expect(read).toEqual({
        type: "message_read",
        message_id: m2.id,
        conversation_id: dm,
        user_id: bob.user.id,
        last_read_seq: 2,
        timestamp: expect.stringMatching(ISO_MS),
      });
    }
    // Marking an earlier message changes nothing, so nothing is announced.
    b.send({ type: "mark_read", message_id: m1.id });
    await barrier(b, a1!, a2!);
    for (const s of [a1!, a2!]) expect(s.ofType("message_read")).toHaveLength(1);
    expect(b.ofType("error")).toHaveLength(0);
    // Same effect as the REST call.
    const unread = await api.get("/api/v1/messages/unread/count", bob.token);
    expect(unread.body.unread_count).toBe(0);
    const seen = await api.get(`/api/v1/conversations/${dm}/messages`, alice.token);
    expect(seen.body.map((m: any) => m.is_read)).toEqual([true, true]);
    closeAll(a1!, a2!, b);
  });

  test("a REST read is announced on the sockets too", async () => {
    const { alice, bob, dm } = await pair();
    const a = await connect(server.url, alice.token);
    const m = (await api.send(alice.token, dm, "read me")).body;
    expect((await api.put(`/api/v1/messages/${m.id}/read`, {}, bob.token)).status).toBe(200);
    const read = await a.waitType("message_read");
    expect(read).toMatchObject({ message_id: m.id, user_id: bob.user.id, last_read_seq: 1 });
    a.close();
  });

  test("in a group every other member hears of it", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const carol = await api.newUser("carol");
    const group = (await api.group(alice.token, "trio", [bob.user.id, carol.user.id])).body.id;
    const [a, c] = [await connect(server.url, alice.token), await connect(server.url, carol.token)];
    const b = await connect(server.url, bob.token);
    const m = (await api.send(alice.token, group, "all read this")).body;
    await b.waitType("new_message");
    b.send({ type: "mark_read", message_id: m.id });
    for (const s of [a, c]) expect(await s.waitType("message_read")).toMatchObject({ user_id: bob.user.id, conversation_id: group });
    closeAll(a, b, c);
  });
});

describe("typing", () => {
  test("other members' devices get user_typing; none of the typer's devices do; nothing is stored", async () => {
    const { alice, bob, dm } = await pair();
    const [a1, a2] = await devices(server, alice, 2);
    const [b1, b2] = await devices(server, bob, 2);
    a1!.send({ type: "typing", conversation_id: dm });
    for (const s of [b1!, b2!]) {
      expect(await s.waitType("user_typing")).toEqual({
        type: "user_typing",
        user_id: alice.user.id,
        conversation_id: dm,
        timestamp: expect.stringMatching(ISO_MS),
      });
    }
    await barrier(a1!, a2!, b1!, b2!);
    for (const s of [a1!, a2!]) {
      expect(s.ofType("user_typing")).toHaveLength(0);
      expect(s.ofType("error")).toHaveLength(0);
    }
    expect((await api.get(`/api/v1/conversations/${dm}/messages`, bob.token)).body).toEqual([]);
    const conversation = await api.get(`/api/v1/conversations/${dm}`, bob.token);
    expect(conversation.body.last_message).toBeNull();
    expect(conversation.body.unread_count).toBe(0);
    closeAll(a1!, a2!, b1!, b2!);
  });

  test("is throttled per user and conversation, across the typer's devices, but not across conversations", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const carol = await api.newUser("carol");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const group = (await api.group(alice.token, "g", [bob.user.id, carol.user.id])).body.id;
    const [a1, a2] = await devices(server, alice, 2);
    const b = await connect(server.url, bob.token);
    // A burst far inside the one-second throttle window.
    for (let i = 0; i < 5; i++) a1!.send({ type: "typing", conversation_id: dm });
    a2!.send({ type: "typing", conversation_id: dm });
    a1!.send({ type: "typing", conversation_id: group });
    // Both conversations' frames arrive (on PostgreSQL membership and blocks are read with an await,
    // so a pong can overtake a typing frame); the throttle is decided in frame order before that.
    await b.waitFor((f) => f.type === "user_typing" && f.conversation_id === group);
    await b.waitFor((f) => f.type === "user_typing" && f.conversation_id === dm);
    await barrier(a1!, a2!, b);
    expect(b.ofType("user_typing").filter((f) => f.conversation_id === dm)).toHaveLength(1);
    expect(b.ofType("user_typing").filter((f) => f.conversation_id === group)).toHaveLength(1);
    // Throttled typing is not an error.
    expect([...a1!.ofType("error"), ...a2!.ofType("error")]).toHaveLength(0);
    closeAll(a1!, a2!, b);
  });
});

describe("ping", () => {
  test("ping gets pong with a timestamp", async () => {
    const alice = await api.newUser("alice");
    const a = await connect(server.url, alice.token);
    a.send({ type: "ping" });
    expect(await a.waitType("pong")).toEqual({ type: "pong", timestamp: expect.stringMatching(ISO_MS) });
    a.close();
  });
});

describe("presence", () => {
  const presenceOf = (s: TestSocket, user: TestUser) => s.ofType("presence").filter((f) => f.user_id === user.user.id);
  const isOnline = async (user: TestUser, asker: TestUser) =>
    (await api.get(`/api/v1/users/${user.user.id}`, asker.token)).body.is_online;

  test("online at a user's first socket, offline at the last, only to users who share a conversation", async () => {
    const { alice, bob } = await pair();
    const carol = await api.newUser("carol");
    const [b1, b2] = await devices(server, bob, 2);
    const c = await connect(server.url, carol.token);
    const a1 = await connect(server.url, alice.token);
    for (const s of [b1!, b2!]) {
      expect(await s.waitType("presence")).toEqual({
        type: "presence",
        user_id: alice.user.id,
        is_online: true,
        timestamp: expect.stringMatching(ISO_MS),
      });
    }
    expect(await isOnline(alice, bob)).toBe(true);
    // A second device is not news.
    const a2 = await connect(server.url, alice.token);
    await barrier(b1!, b2!);
    expect(presenceOf(b1!, alice)).toHaveLength(1);
    // Closing one of two devices is not news either.
    a1.close();
    await until(() => server.hub.socketCount(alice.user.id) === 1);
    await barrier(b1!, b2!);
    expect(presenceOf(b1!, alice)).toHaveLength(1);
    expect(await isOnline(alice, bob)).toBe(true);
    a2.close();
    for (const s of [b1!, b2!]) {
      const off = await s.waitFor((f) => f.type === "presence" && f.is_online === false, 10_000);
      expect(off.user_id).toBe(alice.user.id);
    }
    expect(await isOnline(alice, bob)).toBe(false);
    // Carol shares no conversation with alice: she heard nothing.
    await barrier(c);
    expect(c.ofType("presence")).toHaveLength(0);
    closeAll(b1!, b2!, c);
  });

  test("a user's own sockets are not told of its own presence", async () => {
    const { alice } = await pair();
    const a1 = await connect(server.url, alice.token);
    const a2 = await connect(server.url, alice.token);
    await barrier(a1, a2);
    expect([...a1.ofType("presence"), ...a2.ofType("presence")]).toHaveLength(0);
    closeAll(a1, a2);
  });
});

describe("devices", () => {
  test("two devices of one user both get every kind of event", async () => {
    const { alice, bob, dm } = await pair();
    const [b1, b2] = await devices(server, bob, 2);
    const a = await connect(server.url, alice.token);
    a.send({ type: "message", conversation_id: dm, content: "for both devices" });
    const ack = await a.waitType("message_ack");
    a.send({ type: "typing", conversation_id: dm });
    b1!.send({ type: "message", conversation_id: dm, content: "reply from device 1" });
    await b1!.waitType("message_ack");
    a.send({ type: "mark_read", message_id: (await b1!.waitType("message_ack")).message.id });
    a.close();
    for (const s of [b1!, b2!]) {
      await s.waitFor((f) => f.type === "presence" && f.is_online === false, 10_000);
      await barrier(s);
      expect(s.ofType("presence").map((f) => f.is_online)).toEqual([true, false]);
      expect(newMessages(s).map((f) => f.message.seq)).toEqual([1, 2]);
      expect(newMessages(s)[0]!.message.id).toBe(ack.message.id);
      expect(s.ofType("user_typing")).toHaveLength(1);
      expect(s.ofType("message_read")).toHaveLength(1);
    }
    closeAll(b1!, b2!);
  });
});
