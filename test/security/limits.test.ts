// Resource limits: each has a value, and exceeding it gets the contract's error or close code
// without crashing anything (the server keeps answering and the database stays intact).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client, randomUuid, type TestUser } from "../support/api";
import { expectErrorBody, expectNoLeak } from "../support/expect";
import { fingerprint, integrityOk, startTestServer, type TestServer } from "../support/server";
import { connect, rawSocket } from "../support/socket";

let server: TestServer;
let api: Api;
let alice: TestUser, bob: TestUser;
let dmId: string;

beforeAll(async () => {
  server = await startTestServer({ maxBodyBytes: 64 * 1024 });
  api = client(server.url);
  [alice, bob] = await Promise.all([api.newUser("lim"), api.newUser("lim")]);
  dmId = (await api.dm(alice.token, bob.user.id)).body.id;
});
afterAll(async () => {
  expect(integrityOk(server)).toBe(true);
  expect((await fetch(server.url + "/health")).status).toBe(200);
  await server.close();
});

describe("request bodies", () => {
  test("a body over maxBodyBytes is 413 in the contract shape and stores nothing", async () => {
    const before = fingerprint(server);
    const res = await api.request("POST", `/api/v1/conversations/${dmId}/messages`, {
      token: alice.token,
      raw: JSON.stringify({ content: "x".repeat(70 * 1024) }),
    });
    expect(res.status).toBe(413);
    expectErrorBody(res.body);
    expect(fingerprint(server)).toEqual(before);
  });

  test("a chunked body (no Content-Length) over the limit is refused too, without a 5xx", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"content":"'));
      },
      pull(controller) {
        if (sent++ < 16) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        }
      },
    });
    const before = fingerprint(server);
    const res = await fetch(`${server.url}/api/v1/conversations/${dmId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: stream,
    }).catch((e) => e as Error);
    if (res instanceof Response) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const text = await res.text();
      expectNoLeak(text);
    }
    expect(fingerprint(server)).toEqual(before);
  });

  test("nested JSON up to a few thousand levels is a 4xx in the contract shape", async () => {
    for (const depth of [1_000, 3_000]) {
      const raw = `{"content":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const res = await api.request("POST", `/api/v1/conversations/${dmId}/messages`, { token: alice.token, raw });
      expect(res.status, `depth ${depth}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `depth ${depth}`).toBeLessThan(500);
      expectErrorBody(res.body, `depth ${depth}`);
    }
    const objects = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const res = await api.request("POST", "/api/v1/conversations", { token: alice.token, raw: objects });
    expect(res.status).toBeLessThan(500);
    expectErrorBody(res.body);
  });

  // Once a 500: from ~5000 levels Elysia's ValidationError constructor overflowed the stack.
  test("deeply nested JSON (30000 levels) is a 4xx, never a 500", async () => {
    const depth = 30_000;
    const raw = `{"content":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const res = await api.request("POST", `/api/v1/conversations/${dmId}/messages`, { token: alice.token, raw });
    expect(res.status).toBeLessThan(500);
    expectErrorBody(res.body);
  });
});

describe("message content", () => {
  test("4000 characters are accepted (after trimming), 4001 are 422 naming content", async () => {
    const ok = await api.send(alice.token, dmId, "  " + "é".repeat(4000) + "\n ");
    expect(ok.status).toBe(201);
    expect(ok.body.content).toHaveLength(4000);
    const before = fingerprint(server);
    const tooLong = await api.send(alice.token, dmId, "a".repeat(4001));
    expect(tooLong.status).toBe(422);
    expectErrorBody(tooLong.body);
    expect(tooLong.body.detail).toMatch(/^content/);
    const blank = await api.send(alice.token, dmId, " \n\t ");
    expect(blank.status).toBe(422);
    expect(blank.body.detail).toMatch(/^content/);
    expect(fingerprint(server)).toEqual(before);
  });

  test("over the socket: the same limit is an error frame naming content, and the socket stays open", async () => {
    const s = await connect(server.url, alice.token);
    s.send({ type: "message", conversation_id: dmId, content: "a".repeat(4001), client_msg_id: "too-long" });
    const error = await s.waitType("error");
    expect(error.code).toBe("validation_error");
    expect(error.detail).toMatch(/^content/);
    expect(error.ref).toBe("too-long");
    s.send({ type: "ping" });
    await s.waitType("pong");
    s.close();
  });
});

describe("lists are bounded", () => {
  test("limit above 100, zero, negative or not a number is 422 on every list", async () => {
    const lists = [
      `/api/v1/users`,
      `/api/v1/conversations`,
      `/api/v1/conversations/${dmId}/messages`,
    ];
    for (const path of lists) {
      for (const bad of ["101", "0", "-1", "abc", "1e9", "100000000000000000000"]) {
        const res = await api.get(`${path}?limit=${bad}`, alice.token);
        expect(res.status, `${path}?limit=${bad}`).toBe(422);
        expectErrorBody(res.body);
      }
      expect((await api.get(`${path}?limit=100`, alice.token)).status).toBe(200);
    }
  });

  // Once broken: Elysia reports path "" for a coerced query integer and the detail said "property: …".
  test("a 422 on a query parameter names the field", async () => {
    for (const bad of ["101", "0"]) {
      const res = await api.get(`/api/v1/users?limit=${bad}`, alice.token);
      expect(res.status).toBe(422);
      expect(res.body.detail).toMatch(/^limit/);
    }
  });

  test("without limit a page holds at most 50 messages; limit=100 at most 100", async () => {
    const group = (await api.group(alice.token, "many", [bob.user.id])).body.id;
    await Promise.all(Array.from({ length: 120 }, (_, i) => api.send(alice.token, group, `m${i}`)));
    const page = await api.get(`/api/v1/conversations/${group}/messages`, alice.token);
    expect(page.body).toHaveLength(50);
    expect(page.body.at(-1).seq).toBe(120);
    const big = await api.get(`/api/v1/conversations/${group}/messages?limit=100&after=0`, alice.token);
    expect(big.body).toHaveLength(100);
  });
});

describe("search", () => {
  test("20 searches per user in any 10 s, then 429 with Retry-After; another user is unaffected", async () => {
    const [me, other] = await Promise.all([api.newUser("srch"), api.newUser("srch")]);
    for (let i = 0; i < 20; i++) expect((await api.get(`/api/v1/search/messages?q=word${i}`, me.token)).status).toBe(200);
    const limited = await api.get("/api/v1/search/messages?q=again", me.token);
    expect(limited.status).toBe(429);
    expectErrorBody(limited.body);
    expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await api.get("/api/v1/search/messages?q=again", other.token)).status).toBe(200);
  });
});

describe("participants", () => {
  test("1000 other participants are accepted; 1001 are 422 naming participant_ids; nothing is stored", async () => {
    const ids = Array.from({ length: 1001 }, () => randomUuid());
    const insert = server.db.$client.prepare(
      "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at, token_version) VALUES (?, ?, ?, ?, ?, 'x', 0, 0, 0)",
    );
    server.db.$client.transaction(() => {
      ids.forEach((id, i) => insert.run(id, `bulk_${i}`, `bulk_${i}`, `bulk_${i}@example.com`, `bulk_${i}@example.com`));
    })();
    const before = fingerprint(server);
    const tooMany = await api.group(alice.token, "crowd", ids);
    expect(tooMany.status).toBe(422);
    expectErrorBody(tooMany.body);
    expect(tooMany.body.detail).toMatch(/^participant_ids/);
    expect(fingerprint(server)).toEqual(before);
    const max = await api.group(alice.token, "crowd", ids.slice(0, 1000));
    expect(max.status).toBe(201);
    expect(max.body.participants).toHaveLength(1001);
  });
});

describe("sockets", () => {
  test("a frame over 64 KiB closes the socket with 1009", async () => {
    const s = await connect(server.url, alice.token);
    s.send({ type: "message", conversation_id: dmId, content: "x".repeat(70 * 1024) });
    expect((await s.waitClose(5000)).code).toBe(1009);
  });

  test("a deeply nested frame under the size limit is an error frame; the socket stays open", async () => {
    const s = await connect(server.url, alice.token);
    s.send(`{"type":"sync","since":${"[".repeat(30_000)}${"]".repeat(30_000)}}`);
    const error = await s.waitType("error");
    expect(error.code).toBe("validation_error");
    s.send(`${"[".repeat(30_000)}${"]".repeat(30_000)}`);
    await s.waitFor((f) => f.type === "error" && f.code === "invalid_json");
    s.send({ type: "ping" });
    await s.waitType("pong");
    s.close();
  });

  test("more frames per second than allowed, and as many again waiting, closes the socket with 1008", async () => {
    const s = await connect(server.url, alice.token);
    // Past the burst of twice the per-second limit (a token bucket) and as many frames waiting their turn.
    for (let i = 0; i < 250; i++) s.send({ type: "ping" });
    expect((await s.waitClose(5000)).code).toBe(1008);
    expect(s.ofType("pong").length).toBeLessThan(150);
  });

  test("a first frame that is not {token} closes with 4401", async () => {
    const s = rawSocket(server.url);
    await s.opened;
    s.send({ type: "ping" });
    expect((await s.waitClose(5000)).code).toBe(4401);
  });

  test("the limits are configurable: 3 frames/s and 2 sockets per user", async () => {
    const small = await startTestServer({ wsMaxFramesPerSecond: 3, wsMaxSocketsPerUser: 2 });
    try {
      const c = client(small.url);
      const u = await c.newUser("cfg");
      const a = await connect(small.url, u.token);
      const b = await connect(small.url, u.token);
      const third = rawSocket(small.url);
      await third.opened;
      third.send({ token: u.token });
      expect((await third.waitClose(5000)).code).toBe(4429);
      expect(third.ofType("ready")).toHaveLength(0);
      // The first two are unaffected.
      a.send({ type: "ping" });
      await a.waitType("pong");
      for (let i = 0; i < 20; i++) b.send({ type: "ping" }); // past the burst of 6 and 6 waiting
      expect((await b.waitClose(5000)).code).toBe(1008);
      // A slot freed by a close can be used again.
      const again = await connect(small.url, u.token);
      again.close();
      a.close();
    } finally {
      await small.close();
    }
  });

  test("sockets per user: the 21st socket of one user is closed with 4429 (default 20)", async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(server.url, bob.token)));
    const extra = rawSocket(server.url, { headers: { authorization: `Bearer ${bob.token}` } });
    await extra.opened;
    expect((await extra.waitClose(5000)).code).toBe(4429);
    for (const s of sockets) s.close();
  });
});
