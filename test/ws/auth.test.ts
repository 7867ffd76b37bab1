// Socket authentication: the first-frame token, the Bearer header on the upgrade, and every way to get 4401.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTokenService } from "../../src/modules/auth/tokens";
import { loadOrCreateSecret } from "../../src/secret";
import { type Api, client } from "../support/api";
import { ISO_MS } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, rawSocket, type TestSocket } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

async function closedWith4401(socket: TestSocket) {
  const closed = await socket.waitClose(5000);
  expect(closed.code).toBe(4401);
  expect(socket.ofType("ready")).toHaveLength(0);
  return closed;
}

describe("first-frame token", () => {
  test("a {token} first frame gets ready with the user's id and an ISO timestamp", async () => {
    const alice = await api.newUser("alice");
    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send({ token: alice.token });
    const ready = await socket.waitType("ready");
    expect(ready).toEqual({ type: "ready", user_id: alice.user.id, timestamp: expect.stringMatching(ISO_MS) });
    expect(socket.frames[0]).toBe(ready);
    await barrier(socket);
    socket.close();
  });

  test("frames sent right after the token, before ready, are answered after ready and in order", async () => {
    const alice = await api.newUser("alice");
    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send({ token: alice.token });
    socket.send({ type: "ping" });
    socket.send({ type: "bogus" });
    await socket.waitType("error");
    expect(socket.frames.map((f) => f.type)).toEqual(["ready", "pong", "error"]);
    socket.close();
  });

  test("the same token may open several sockets (devices)", async () => {
    const alice = await api.newUser("alice");
    const sockets = await Promise.all([connect(server.url, alice.token), connect(server.url, alice.token)]);
    for (const s of sockets) expect(s.frames[0]!.user_id).toBe(alice.user.id);
    await barrier(...sockets);
    closeAll(...sockets);
  });
});

describe("Authorization: Bearer on the upgrade", () => {
  test("gets ready without any token frame", async () => {
    const alice = await api.newUser("alice");
    const socket = rawSocket(server.url, { headers: { authorization: `Bearer ${alice.token}` } });
    const ready = await socket.waitType("ready");
    expect(ready.user_id).toBe(alice.user.id);
    expect(ready.timestamp).toMatch(ISO_MS);
    await barrier(socket);
    socket.close();
  });

  test("a frame sent on open, while the header token is checked, is handled after ready", async () => {
    const alice = await api.newUser("alice");
    const socket = rawSocket(server.url, { headers: { authorization: `Bearer ${alice.token}` } });
    await socket.opened;
    socket.send({ type: "ping" });
    await socket.waitType("pong");
    expect(socket.frames.map((f) => f.type)).toEqual(["ready", "pong"]);
    socket.close();
  });

  test("an invalid Bearer token closes with 4401 without waiting for a frame", async () => {
    const socket = rawSocket(server.url, { headers: { authorization: "Bearer not.a.jwt" } });
    await closedWith4401(socket);
  });
});

describe("4401", () => {
  const firstFrames: [string, (token: string) => string][] = [
    ["a garbage token", () => JSON.stringify({ token: "garbage" })],
    ["a tampered token", (t) => JSON.stringify({ token: t.slice(0, -3) + (t.endsWith("A") ? "BBB" : "AAA") })],
    ["a token that is not a string", () => JSON.stringify({ token: 42 })],
    ["an empty token", () => JSON.stringify({ token: "" })],
    ["a ping instead of a token", () => JSON.stringify({ type: "ping" })],
    ["a message instead of a token", () => JSON.stringify({ type: "message", conversation_id: crypto.randomUUID(), content: "hi" })],
    ["a frame that is not JSON", (t) => t],
    ["a JSON array", (t) => JSON.stringify([{ token: t }])],
    ["JSON null", () => "null"],
  ];
  for (const [name, frame] of firstFrames) {
    test(`first frame: ${name}`, async () => {
      const alice = await api.newUser("alice");
      const socket = rawSocket(server.url);
      await socket.opened;
      socket.send(frame(alice.token));
      await closedWith4401(socket);
    });
  }

  test("an expired token", async () => {
    const alice = await api.newUser("alice");
    const expired = await createTokenService(loadOrCreateSecret(server.dataDir, server.deps.config.jwtSecret), -120).sign(alice.user.id, 0);
    // The same service with a live lifetime is accepted: only the expiry differs.
    const live = await createTokenService(loadOrCreateSecret(server.dataDir, server.deps.config.jwtSecret), 60).sign(alice.user.id, 0);
    (await connect(server.url, live)).close();
    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send({ token: expired });
    await closedWith4401(socket);
  });

  test("a token revoked by a password change", async () => {
    const alice = await api.newUser("alice");
    const changed = await api.put("/api/v1/users/me", { password: "another good password", current_password: alice.password }, alice.token);
    expect(changed.status).toBe(200);
    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send({ token: alice.token });
    await closedWith4401(socket);
  });

  test("no token within 10 s", async () => {
    const socket = rawSocket(server.url);
    await socket.opened;
    const closed = await socket.waitClose(14_000);
    expect(closed.code).toBe(4401);
    expect(socket.frames).toHaveLength(0);
  }, 20_000);

  test("the server stays healthy after failed handshakes", async () => {
    const alice = await api.newUser("alice");
    const s = await connect(server.url, alice.token);
    await barrier(s);
    expect((await api.get("/health")).status).toBe(200);
    s.close();
  });
});

describe("nothing is delivered before ready", () => {
  test("an unauthenticated socket gets no events; ready is the first frame after the token", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const early = rawSocket(server.url);
    await early.opened;
    const aliceSocket = await connect(server.url, alice.token);
    // Bob's authenticated device sees when each event has been published.
    const bobSocket = await connect(server.url, bob.token);
    // All of these are out before `early` sends its token, so had `early` been subscribed they would
    // already be on its wire ahead of anything answering its token. (The typing frame is published
    // after membership and block reads, which await on PostgreSQL: wait for it, not for a pong.)
    expect((await api.send(alice.token, dm, "while you were connecting")).status).toBe(201);
    aliceSocket.send({ type: "typing", conversation_id: dm });
    await bobSocket.waitType("user_typing");
    early.send({ token: bob.token });
    await early.waitType("ready");
    await barrier(early);
    expect(early.frames[0]!.type).toBe("ready");
    expect(early.ofType("new_message")).toHaveLength(0);
    expect(early.ofType("user_typing")).toHaveLength(0);
    closeAll(early, aliceSocket, bobSocket);
  });

  test("messages sent while a socket authenticates never precede its ready", async () => {
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id;
    const sends = Array.from({ length: 20 }, (_, i) => api.send(alice.token, dm, `m${i}`));
    const headerSocket = rawSocket(server.url, { headers: { authorization: `Bearer ${bob.token}` } });
    const frameSocket = connect(server.url, bob.token);
    await Promise.all(sends);
    const sockets = [headerSocket, await frameSocket];
    await headerSocket.waitType("ready");
    await barrier(...sockets);
    for (const s of sockets) expect(s.frames[0]!.type).toBe("ready");
    closeAll(...sockets);
  });
});
