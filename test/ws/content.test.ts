// Message text is the same string on every path: a lone UTF-16 surrogate (which UTF-8 cannot carry)
// is refused on REST and on the socket alike, and well-formed text, astral characters included, comes
// back identical in the ack, the live frame, REST history and sync.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Api, client, restHistory } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, connect, errorFor } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

test("a lone surrogate is a 422 over REST and a validation_error frame on the socket; nothing is stored", async () => {
  const alice = await api.newUser("alice");
  const bob = await api.newUser("bob");
  const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
  for (const content of ["ab\ud800cd", "\udfff", "x\udbff"]) {
    // Written by hand: JSON.stringify keeps the escape, which is what a client would send.
    const rest = await api.request("POST", `/api/v1/conversations/${dm}/messages`, { token: alice.token, raw: JSON.stringify({ content }) });
    expect(rest.status).toBe(422);
    expect(rest.body).toEqual({ code: "validation_error", detail: expect.stringMatching(/^content: .*surrogate/) });
  }
  const s = await connect(server.url, alice.token);
  const error = await errorFor(s, { type: "message", conversation_id: dm, content: "\ud83d", client_msg_id: "lone" });
  expect(error).toMatchObject({ code: "validation_error", ref: "lone" });
  expect(await restHistory(api, alice.token, dm)).toEqual([]);
  s.close();
});

test("well-formed text with astral characters is the same string in the ack, the live frame, history and sync", async () => {
  const alice = await api.newUser("alice");
  const bob = await api.newUser("bob");
  const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
  const content = "emoji 🙂 and 𝄞 and ﷽";
  const a = await connect(server.url, alice.token);
  const b = await connect(server.url, bob.token);
  a.send({ type: "message", conversation_id: dm, content });
  const ack = await a.waitType("message_ack");
  const live = await b.waitType("new_message");
  const [stored] = await restHistory(api, bob.token, dm);
  const from = b.frames.length;
  b.send({ type: "sync", since: { [dm]: 0 } });
  await b.waitFor((f) => f.type === "sync_done", 5000, from);
  const synced = b.frames.slice(from).find((f) => f.type === "new_message")!;
  for (const m of [ack.message, live.message, stored, synced.message]) expect(m.content).toBe(content);
  await barrier(a, b);
  a.close();
  b.close();
});
