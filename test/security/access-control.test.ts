// Access control: for every route and socket frame that takes an id, a non-member gets exactly what a
// nonexistent id gets (a 404, never a 403), the database does not change, and no event leaks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client, randomUuid, type TestUser } from "../support/api";
import { expectErrorBody } from "../support/expect";
import { fingerprint, startTestServer, type TestServer } from "../support/server";
import { connect, type TestSocket } from "../support/socket";

let server: TestServer;
let api: Api;
let alice: TestUser, bob: TestUser, eve: TestUser;
let dmId: string, groupId: string, dmMessageId: string, groupMessageId: string;

beforeAll(async () => {
  server = await startTestServer();
  api = client(server.url);
  [alice, bob, eve] = await Promise.all([api.newUser("alice"), api.newUser("bob"), api.newUser("eve")]);
  dmId = (await api.dm(alice.token, bob.user.id)).body.id;
  groupId = (await api.group(alice.token, "secret plans", [bob.user.id])).body.id;
  dmMessageId = (await api.send(alice.token, dmId, "dm secret", "a1")).body.id;
  groupMessageId = (await api.send(bob.token, groupId, "group secret", "b1")).body.id;
});
afterAll(() => server.close());

type Call = (id: string) => Promise<{ status: number; body: unknown }>;

/** Route name → how eve calls it with a given id, and which real id she must not reach. */
const routes: [string, Call, () => string[]][] = [
  ["GET /conversations/{id}", (id) => api.get(`/api/v1/conversations/${id}`, eve.token), () => [dmId, groupId]],
  ["PUT /conversations/{id}", (id) => api.put(`/api/v1/conversations/${id}`, { name: "pwned" }, eve.token), () => [dmId, groupId]],
  ["GET /conversations/{id}/messages", (id) => api.get(`/api/v1/conversations/${id}/messages`, eve.token), () => [dmId, groupId]],
  ["GET /conversations/{id}/messages?after=0", (id) => api.get(`/api/v1/conversations/${id}/messages?after=0`, eve.token), () => [dmId, groupId]],
  ["GET /conversations/{id}/messages?before=99", (id) => api.get(`/api/v1/conversations/${id}/messages?before=99`, eve.token), () => [dmId, groupId]],
  ["POST /conversations/{id}/messages", (id) => api.send(eve.token, id, "let me in"), () => [dmId, groupId]],
  ["POST /conversations/{id}/messages with client_msg_id", (id) => api.send(eve.token, id, "let me in", "a1"), () => [dmId, groupId]],
  ["PUT /messages/{id}/read", (id) => api.put(`/api/v1/messages/${id}/read`, {}, eve.token), () => [dmMessageId, groupMessageId]],
];

describe("REST: a non-member gets the same 404 as a nonexistent id and changes nothing", () => {
  for (const [name, call, realIds] of routes) {
    test(name, async () => {
      const missing = await call(randomUuid());
      expect(missing.status).toBe(404);
      expectErrorBody(missing.body, name);
      for (const id of realIds()) {
        const before = fingerprint(server);
        const denied = await call(id);
        expect(denied.status, name).toBe(404);
        expect(denied.body, name).toEqual(missing.body);
        expect(fingerprint(server), name).toEqual(before);
      }
    });
  }

  test("GET /users/{id} of a nonexistent user is 404 in the contract shape", async () => {
    const res = await api.get(`/api/v1/users/${randomUuid()}`, eve.token);
    expect(res.status).toBe(404);
    expectErrorBody(res.body);
  });

  test("the conversation list and unread counts of a non-member show nothing of others' conversations", async () => {
    const list = await api.get("/api/v1/conversations", eve.token);
    expect(list.status).toBe(200);
    expect(list.body).toEqual([]);
    const unread = await api.get("/api/v1/messages/unread/count", eve.token);
    expect(unread.body).toEqual({ unread_count: 0, mention_count: 0, conversations: [] });
  });

  test("a member's own view is unaffected by the attempts (control)", async () => {
    const page = await api.get(`/api/v1/conversations/${dmId}/messages`, bob.token);
    expect(page.status).toBe(200);
    expect(page.body.map((m: any) => m.content)).toEqual(["dm secret"]);
    const group = await api.get(`/api/v1/conversations/${groupId}`, bob.token);
    expect(group.body.name).toBe("secret plans");
  });
});

describe("socket frames: a non-member gets the same error as for a nonexistent id, and nothing leaks", () => {
  let eveSocket: TestSocket, aliceSocket: TestSocket, bobSocket: TestSocket;
  beforeAll(async () => {
    [eveSocket, aliceSocket, bobSocket] = await Promise.all([
      connect(server.url, eve.token),
      connect(server.url, alice.token),
      connect(server.url, bob.token),
    ]);
  });
  afterAll(() => {
    for (const s of [eveSocket, aliceSocket, bobSocket]) s.close();
  });

  /** Sends a frame and returns the error frame it produced (without ref, which echoes the input). */
  async function errorFor(frame: object) {
    const from = eveSocket.frames.length;
    eveSocket.send(frame);
    const { ref: _ref, ...error } = await eveSocket.waitFor((f) => f.type === "error", 5000, from);
    return error;
  }

  const frames: [string, (id: string) => object, () => string[]][] = [
    ["message", (id) => ({ type: "message", conversation_id: id, content: "let me in", client_msg_id: "e1" }), () => [dmId, groupId]],
    ["message without client_msg_id", (id) => ({ type: "message", conversation_id: id, content: "let me in" }), () => [dmId, groupId]],
    ["mark_read", (id) => ({ type: "mark_read", message_id: id }), () => [dmMessageId, groupMessageId]],
    ["typing", (id) => ({ type: "typing", conversation_id: id }), () => [dmId, groupId]],
  ];

  for (const [name, make, realIds] of frames) {
    test(name, async () => {
      const missing = await errorFor(make(randomUuid()));
      expect(missing.code).toBe("not_found");
      for (const id of realIds()) {
        const before = fingerprint(server);
        expect(await errorFor(make(id)), name).toEqual(missing);
        expect(fingerprint(server), name).toEqual(before);
      }
      expect(eveSocket.closed).toBeNull();
    });
  }

  test("sync for conversations you are not in is ignored: no messages, sync_done without more", async () => {
    const from = eveSocket.frames.length;
    eveSocket.send({ type: "sync", since: { [dmId]: 0, [groupId]: 0, [randomUuid()]: 0 } });
    const done = await eveSocket.waitFor((f) => f.type === "sync_done", 5000, from);
    expect(done.has_more).toBe(false);
    expect(eveSocket.frames.slice(from).filter((f) => f.type === "new_message")).toHaveLength(0);
  });

  test("members see none of eve's attempts, and eve sees none of the members' traffic", async () => {
    const sent = await api.send(alice.token, groupId, "after the attempts", "a2");
    expect(sent.status).toBe(201);
    await bobSocket.waitFor((f) => f.type === "new_message" && f.message.id === sent.body.id);
    const typed = aliceSocket.frames.length;
    bobSocket.send({ type: "typing", conversation_id: groupId });
    await aliceSocket.waitFor((f) => f.type === "user_typing", 5000, typed);
    await eveSocket.settle(100);
    const leaked = (f: any) => ["new_message", "message_read", "user_typing", "presence"].includes(f.type);
    expect(eveSocket.frames.filter(leaked)).toEqual([]);
    const fromEve = (f: any) => f.user_id === eve.user.id || f.message?.sender_id === eve.user.id;
    expect(aliceSocket.frames.filter(fromEve)).toEqual([]);
    expect(bobSocket.frames.filter(fromEve)).toEqual([]);
  });
});
