// Who hears what: sockets follow conversations created after they opened, and a socket never receives a
// frame of a conversation its user is not in, whatever the members do and whatever the outsider tries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { aboutConversation, barrier, closeAll, connect, devices, errorFor, newMessages } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

describe("conversations created after the socket opened", () => {
  test("a direct conversation created over REST: both members' open sockets get its messages and typing", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const [a, b] = [await connect(server.url, alice.token), await connect(server.url, bob.token)];
    const dm = await api.dm(bob.token, alice.user.id);
    expect(dm.status).toBe(201);
    const sent = await api.send(alice.token, dm.body.id, "after the socket opened");
    for (const s of [a, b]) expect((await s.waitType("new_message")).message.id).toBe(sent.body.id);
    a.send({ type: "typing", conversation_id: dm.body.id });
    expect((await b.waitType("user_typing")).conversation_id).toBe(dm.body.id);
    // The creator's own socket was subscribed too: it hears its own socket send.
    b.send({ type: "message", conversation_id: dm.body.id, content: "me too" });
    await b.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
    closeAll(a, b);
  });

  test("a group created over REST reaches every member's devices", async () => {
    const [alice, bob, carol] = [await api.newUser("alice"), await api.newUser("bob"), await api.newUser("carol")];
    const sockets = [...(await devices(server, alice, 1)), ...(await devices(server, bob, 2)), ...(await devices(server, carol, 1))];
    const group = await api.group(alice.token, "late group", [bob.user.id, carol.user.id]);
    expect(group.status).toBe(201);
    sockets[1]!.send({ type: "message", conversation_id: group.body.id, content: "hello group" });
    for (const s of sockets) expect((await s.waitType("new_message")).message.conversation_id).toBe(group.body.id);
    closeAll(...sockets);
  });

  test("a direct conversation created by a socket message with recipient_id reaches the recipient's socket", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const [b1, b2] = await devices(server, bob, 2);
    const a = await connect(server.url, alice.token);
    a.send({ type: "message", recipient_id: bob.user.id, content: "knock knock" });
    const ack = await a.waitType("message_ack");
    for (const s of [b1!, b2!]) expect((await s.waitType("new_message")).message).toEqual(ack.message);
    // And that socket can now type and read in it without reconnecting.
    b1!.send({ type: "typing", conversation_id: ack.message.conversation_id });
    b1!.send({ type: "mark_read", message_id: ack.message.id });
    await a.waitType("user_typing");
    await a.waitType("message_read");
    closeAll(a, b1!, b2!);
  });
});

describe("a non-member never receives a frame of a conversation", () => {
  test("an outsider connected throughout sees none of the members' traffic, and cannot reach into it", async () => {
    const [alice, bob, carol, dave, eve] = await Promise.all(["alice", "bob", "carol", "dave", "eve"].map((p) => api.newUser(p)));
    // Eve has two devices open from before anything exists until the end.
    const eveSockets = await devices(server, eve!, 2);
    const [a, b, c] = [await connect(server.url, alice!.token), await connect(server.url, bob!.token), await connect(server.url, carol!.token)];
    const dm = (await api.dm(alice!.token, bob!.user.id)).body.id as string;
    const group = (await api.group(alice!.token, "no eve", [bob!.user.id, carol!.user.id])).body.id as string;
    const secrets = ["secret-rest", "secret-socket", "secret-group", "secret-new-dm"];

    // Members talk, over REST and the socket, in a DM, a group and a DM created by recipient_id.
    await api.send(alice!.token, dm, secrets[0]!);
    a.send({ type: "message", conversation_id: dm, content: secrets[1], client_msg_id: "x1" });
    const dmAck = await a.waitType("message_ack");
    c.send({ type: "message", conversation_id: group, content: secrets[2] });
    const groupAck = await c.waitType("message_ack");
    b.send({ type: "message", recipient_id: dave!.user.id, content: secrets[3] });
    const newDm = (await b.waitType("message_ack")).message.conversation_id as string;
    a.send({ type: "typing", conversation_id: dm });
    c.send({ type: "typing", conversation_id: group });
    b.send({ type: "mark_read", message_id: dmAck.message.id });
    a.send({ type: "mark_read", message_id: groupAck.message.id });
    // Presence changes of members.
    const d = await connect(server.url, dave!.token);
    d.close();

    // Eve tries to get in every way the protocol offers.
    const [e1, e2] = eveSockets;
    const tries = [
      { type: "message", conversation_id: dm, content: "let me in", client_msg_id: "e1" },
      { type: "message", conversation_id: group, content: "let me in" },
      { type: "typing", conversation_id: dm },
      { type: "typing", conversation_id: group },
      { type: "mark_read", message_id: dmAck.message.id },
      { type: "mark_read", message_id: groupAck.message.id },
    ];
    for (const frame of tries) {
      const error = await errorFor(e1!, frame);
      expect(error.code).toBe("not_found");
    }
    e2!.send({ type: "sync", since: { [dm]: 0, [group]: 0, [newDm]: 0 } });
    expect(await e2!.waitType("sync_done")).toEqual({ type: "sync_done", has_more: false });

    // Wait until the members got everything, then flush eve's sockets.
    await b.waitFor((f) => f.type === "new_message" && f.message.conversation_id === group);
    await a.waitFor((f) => f.type === "message_read" && f.conversation_id === group);
    await barrier(a, b, c, e1!, e2!);
    for (const e of eveSockets) {
      for (const id of [dm, group, newDm]) expect(aboutConversation(e, id)).toEqual([]);
      expect(e.frames.filter((f) => !["ready", "pong", "error", "sync_done"].includes(f.type))).toEqual([]);
      const text = JSON.stringify(e.frames);
      for (const secret of secrets) expect(text).not.toContain(secret);
      for (const u of [alice, bob, carol, dave]) expect(text).not.toContain(u!.user.id);
    }
    // And nothing eve tried reached the members.
    for (const s of [a, b, c]) {
      expect(s.frames.some((f) => f.user_id === eve!.user.id || f.message?.sender_id === eve!.user.id)).toBe(false);
    }
    expect(newMessages(a, dm)).toHaveLength(2);
    closeAll(a, b, c, ...eveSockets);
  });

  test("a conversation id of someone else's and an unknown one give the same error", async () => {
    const [alice, bob, eve] = await Promise.all(["alice", "bob", "eve"].map((p) => api.newUser(p)));
    const dm = (await api.dm(alice!.token, bob!.user.id)).body.id;
    const e = await connect(server.url, eve!.token);
    const foreign = await errorFor(e, { type: "message", conversation_id: dm, content: "hi", client_msg_id: "c" });
    const unknown = await errorFor(e, { type: "message", conversation_id: crypto.randomUUID(), content: "hi", client_msg_id: "c" });
    expect(foreign).toEqual(unknown);
    expect(foreign).toEqual({ type: "error", code: "not_found", detail: expect.stringMatching(/conversation/i), ref: "c" });
    e.close();
  });
});
