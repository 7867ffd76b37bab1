// The shortest path through the product: sign up two users, chat over REST and sockets.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Api, client } from "./support/api";
import { startTestServer, type TestServer } from "./support/server";
import { connect } from "./support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer();
  api = client(server.url);
});
afterAll(() => server.close());

test("two users chat: REST send reaches the other user's socket after message_ack order", async () => {
  const alice = await api.newUser("alice");
  const bob = await api.newUser("bob");
  const dm = await api.dm(alice.token, bob.user.id);
  expect(dm.status).toBe(201);
  const bobSocket = await connect(server.url, bob.token);
  const aliceSocket = await connect(server.url, alice.token);
  const sent = await api.send(alice.token, dm.body.id, "hello bob", "c1");
  expect(sent.status).toBe(201);
  expect(sent.body.seq).toBe(1);
  expect(sent.body.recipient_id).toBe(bob.user.id);
  const got = await bobSocket.waitType("new_message");
  expect(got.message.id).toBe(sent.body.id);

  aliceSocket.send({ type: "message", conversation_id: dm.body.id, content: "over the socket", client_msg_id: "c2" });
  const ack = await aliceSocket.waitType("message_ack");
  expect(ack.message.seq).toBe(2);
  const echoed = await aliceSocket.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
  expect(aliceSocket.frames.indexOf(ack)).toBeLessThan(aliceSocket.frames.indexOf(echoed));
  await bobSocket.waitFor((f) => f.type === "new_message" && f.message.seq === 2);

  const again = await api.send(alice.token, dm.body.id, "hello bob", "c1");
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(sent.body.id);

  const page = await api.get(`/api/v1/conversations/${dm.body.id}/messages`, bob.token);
  expect(page.body.map((m: any) => m.seq)).toEqual([1, 2]);
  const unread = await api.get("/api/v1/messages/unread/count", bob.token);
  expect(unread.body).toEqual({ unread_count: 2, mention_count: 0, conversations: [{ conversation_id: dm.body.id, unread_count: 2, mention_count: 0, muted: false }] });
  bobSocket.close();
  aliceSocket.close();
});
