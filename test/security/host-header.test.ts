// Routing on the real path whatever the Host header says (issue 11.3): Elysia used to find the path
// at a fixed offset, so `Host: x` turned "/foo/metrics" into "/metrics" and broke short hosts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { client } from "../support/api";
import { rawRequest } from "../support/raw-http";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  token = (await client(server.url).newUser("host")).token;
});
afterAll(() => server.close());

const get = (path: string, host: string | null, headers: Record<string, string> = {}) =>
  rawRequest(server.port, { path, host, headers });

describe("the Host header cannot change which route answers", () => {
  // Short, port-carrying, percent-encoded and unparseable hosts (Bun leaves the URL relative for the last ones).
  const hosts = ["x", "ab", "abc", "x:1", "%2f", "", "a/b", "u@h", "x y"];

  for (const host of hosts) {
    test(`Host ${JSON.stringify(host)}: a prefixed path is not served as /metrics or /api/v1/auth/me`, async () => {
      const metrics = await get("/foo/metrics", host);
      expect(metrics.status).toBe(404);
      expect(metrics.body).not.toContain("chat_build_info");
      const me = await get("/zz/api/v1/auth/me", host, { authorization: `Bearer ${token}` });
      expect(me.status).toBe(404);
    });

    test(`Host ${JSON.stringify(host)}: the real paths answer as with a normal host`, async () => {
      const me = await get("/api/v1/auth/me", host, { authorization: `Bearer ${token}` });
      expect(me.status).toBe(200);
      expect(JSON.parse(me.body).username).toStartWith("host");
      const health = await get("/health", host);
      expect(health.status).toBe(200);
      const query = await get("/api/v1/users?q=host&limit=1", host, { authorization: `Bearer ${token}` });
      expect(query.status).toBe(200);
      expect(JSON.parse(query.body)).toHaveLength(1);
    });
  }

  test("a body still arrives through a rebuilt request (login with Host: x)", async () => {
    const api = client(server.url);
    const { user, password } = await api.newUser("hostlogin");
    const res = await rawRequest(server.port, {
      method: "POST",
      path: "/api/v1/auth/login",
      host: "x",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: user.username, password }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).token_type).toBe("bearer");
  });

  test("a normal host is unaffected", async () => {
    const res = await get("/api/v1/auth/me", "chat.example.com", { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect((await get("/foo/metrics", "chat.example.com")).status).toBe(404);
  });
});

/** A non-loopback address of this machine, to reach a server bound to 0.0.0.0 as a remote client would. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

describe("/metrics on a server bound to a non-loopback address", () => {
  const outside = outsideAddress();
  if (!outside) console.warn("host-header.test: no non-loopback IPv4 address here; the remote /metrics cases are skipped");

  test.skipIf(!outside)("without --metrics-token it answers loopback clients only", async () => {
    const open = await startTestServer({ host: "0.0.0.0" });
    try {
      const local = await rawRequest(open.port, { path: "/metrics", host: "localhost" });
      expect(local.status).toBe(200);
      expect(local.body).toContain("chat_build_info");
      const remote = await rawRequest(open.port, { path: "/metrics", host: "chat.example.com", address: outside });
      expect(remote.status).toBe(403);
      expect(remote.body).not.toContain("chat_build_info");
      expect(JSON.parse(remote.body).code).toBe("forbidden");
      // The rest of the API is still reachable from there.
      expect((await rawRequest(open.port, { path: "/health", host: "chat.example.com", address: outside })).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  test.skipIf(!outside)("with --metrics-token a remote scraper with the token is served", async () => {
    const open = await startTestServer({ host: "0.0.0.0", metricsToken: "scrape-secret" });
    try {
      const without = await rawRequest(open.port, { path: "/metrics", host: "chat.example.com", address: outside });
      expect(without.status).toBe(401);
      const withToken = await rawRequest(open.port, {
        path: "/metrics",
        host: "chat.example.com",
        address: outside,
        headers: { authorization: "Bearer scrape-secret" },
      });
      expect(withToken.status).toBe(200);
      expect(withToken.body).toContain("chat_build_info");
    } finally {
      await open.close();
    }
  });
});
