// Presence is debounced: a user who reconnects within the grace period was never announced offline,
// so nothing is announced at all; offline comes once the grace period passes without a socket, and
// online again only after that.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { PRESENCE_OFFLINE_DELAY_MS } from "../../src/realtime/presence";
import { type Api, client } from "../support/api";
import { ISO_MS } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, connect } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

test("a quick reconnect announces nothing; a real departure announces offline once, then online again", async () => {
  const alice = await api.newUser("alice");
  const bob = await api.newUser("bob");
  await api.dm(alice.token, bob.user.id);
  const watcher = await connect(server.url, bob.token);
  const aliceFrames = () => watcher.ofType("presence").filter((f) => f.user_id === alice.user.id);
  const isOnline = async () => (await api.get(`/api/v1/users/${alice.user.id}`, bob.token)).body.is_online;

  const a1 = await connect(server.url, alice.token);
  expect(await watcher.waitType("presence")).toEqual({ type: "presence", user_id: alice.user.id, is_online: true, timestamp: expect.stringMatching(ISO_MS) });

  // A page reload: the last socket closes and a new one opens at once.
  a1.close();
  await a1.waitClose();
  const a2 = await connect(server.url, alice.token);
  await Bun.sleep(PRESENCE_OFFLINE_DELAY_MS + 1_000);
  await barrier(watcher);
  expect(aliceFrames().map((f) => f.is_online)).toEqual([true]);
  expect(await isOnline()).toBe(true);

  // Gone for good: offline once the grace period passes, and REST agrees.
  a2.close();
  const off = await watcher.waitFor((f) => f.type === "presence" && f.is_online === false, PRESENCE_OFFLINE_DELAY_MS + 10_000);
  expect(off.user_id).toBe(alice.user.id);
  expect(await isOnline()).toBe(false);

  const a3 = await connect(server.url, alice.token);
  await watcher.waitFor((f) => f.type === "presence" && f.is_online === true && f !== aliceFrames()[0]);
  await barrier(watcher);
  expect(aliceFrames().map((f) => f.is_online)).toEqual([true, false, true]);
  a3.close();
  watcher.close();
}, 30_000);
