// Sockets waiting for a token are limited per client address, so one client cannot lock everyone
// out; an upgrade carrying a Bearer token is let through whatever the counts (it authenticates at
// once), and a socket idle for EVICT_AFTER_MS without its token makes room for a newcomer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { CLOSE } from "../../src/realtime/protocol";
import { EVICT_AFTER_MS } from "../../src/realtime/admission";
import { type Api, client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, rawSocket, type TestSocket } from "../support/socket";

/** Small, so the address fills in a few milliseconds (well under EVICT_AFTER_MS). */
const MAX_PENDING_PER_ADDRESS = 20;
let server: TestServer;
let api: Api;
beforeAll(async () => {
  // X-Forwarded-For stands for distinct client addresses on loopback.
  server = await startTestServer({ rateLimit: false, trustProxy: true, wsMaxPendingPerAddress: MAX_PENDING_PER_ADDRESS });
  api = client(server.url);
});
afterAll(() => server.close());

const from = (address: string, extra: Record<string, string> = {}) => rawSocket(server.url, { headers: { "x-forwarded-for": address, ...extra } });

/** The upgrade's HTTP answer when it is refused (a plain fetch with upgrade headers). */
const upgradeStatus = (address: string) =>
  fetch(server.url + "/api/v1/ws", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": randomBytes(16).toString("base64"),
      "x-forwarded-for": address,
    },
  });

test("one address holding its share of tokenless sockets is refused more; other addresses and Bearer upgrades are not", async () => {
  const alice = await api.newUser("alice");
  const idle: TestSocket[] = [];
  for (let i = 0; i < MAX_PENDING_PER_ADDRESS; i++) idle.push(from("203.0.113.7"));
  await Promise.all(idle.map((s) => s.opened));

  const refused = await upgradeStatus("203.0.113.7");
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(await refused.json()).toEqual({ code: "too_many_pending_sockets", detail: expect.any(String) });

  // Another address still opens a socket and authenticates with its first frame.
  const other = from("198.51.100.1");
  await other.opened;
  other.send({ token: alice.token });
  await other.waitType("ready");
  // The crowded address itself may still connect with a Bearer upgrade.
  const bearer = from("203.0.113.7", { authorization: `Bearer ${alice.token}` });
  await bearer.waitType("ready");
  await barrier(other, bearer);

  // Authenticating frees the slot: one of the idle sockets logs in, and the address may open one more.
  idle[0]!.send({ token: alice.token });
  await idle[0]!.waitType("ready");
  const next = from("203.0.113.7");
  await next.opened;
  next.send({ token: alice.token });
  await next.waitType("ready");
  closeAll(...idle, other, bearer, next);
});

test("closing tokenless sockets frees their address's share", async () => {
  const alice = await api.newUser("alice");
  const idle: TestSocket[] = [];
  for (let i = 0; i < MAX_PENDING_PER_ADDRESS; i++) idle.push(from("192.0.2.9"));
  await Promise.all(idle.map((s) => s.opened));
  expect((await upgradeStatus("192.0.2.9")).status).toBe(429);
  closeAll(...idle);
  await Promise.all(idle.map((s) => s.waitClose()));
  for (let i = 0; ; i++) {
    // The server sees the closes just after the client does.
    const s = from("192.0.2.9");
    try {
      await s.opened;
    } catch {
      if (i > 50) throw new Error("the address stayed refused after its sockets closed");
      await Bun.sleep(20);
      continue;
    }
    s.send({ token: alice.token });
    await s.waitType("ready");
    s.close();
    break;
  }
});

test("a socket idle without its token for EVICT_AFTER_MS is closed (4401) to admit a newcomer from its address", async () => {
  const alice = await api.newUser("alice");
  const idle: TestSocket[] = [];
  for (let i = 0; i < MAX_PENDING_PER_ADDRESS; i++) idle.push(from("192.0.2.77"));
  await Promise.all(idle.map((s) => s.opened));
  await Bun.sleep(EVICT_AFTER_MS + 200);
  const newcomer = from("192.0.2.77");
  await newcomer.opened;
  newcomer.send({ token: alice.token });
  await newcomer.waitType("ready");
  // The oldest idle one made room; the others are still open.
  expect((await idle[0]!.waitClose()).code).toBe(CLOSE.unauthorized);
  expect(idle.slice(1).filter((s) => s.closed !== null)).toEqual([]);
  closeAll(...idle, newcomer);
});
