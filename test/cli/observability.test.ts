// Request and socket logs, and /metrics: what an operator scrapes and greps, checked on a real server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config";
import { createLogger } from "../../src/lib/logger";
import { startServer, type RunningServer } from "../../src/server";
import { client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { connect } from "../support/socket";

/** A real server whose JSON log lines are captured in memory. */
async function startLoggedServer(overrides: Partial<Config> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-obs-"));
  const lines: string[] = [];
  const out = { write: (s: string) => (lines.push(s), true) } as unknown as typeof process.stderr;
  const config: Config = { ...loadConfig([], {}), port: 0, host: "127.0.0.1", dataDir, ...overrides };
  const running = await startServer(config, createLogger("info", "json", out));
  return {
    running,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, any>),
    async close() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const sample = (text: string, name: string, labels: Record<string, string> = {}) => {
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
};

describe("request and socket logs", () => {
  let s: Awaited<ReturnType<typeof startLoggedServer>>;
  beforeAll(async () => {
    s = await startLoggedServer();
  });
  afterAll(() => s.close());

  test("one JSON line per request with method, path, route, status, duration, user and request id", async () => {
    const api = client(s.running.url);
    const alice = await api.newUser("alice");
    const res = await api.request("GET", "/api/v1/users?q=secret-search&limit=5", { token: alice.token, headers: { "x-request-id": "trace-42" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("trace-42");
    const line = s.records().find((r) => r.msg === "request" && r.request_id === "trace-42")!;
    expect(line).toMatchObject({ level: "info", method: "GET", path: "/api/v1/users", status: 200, user_id: alice.user.id });
    expect(typeof line.duration_ms).toBe("number");
    expect(line.route).toBe("/api/v1/users");

    const generated = await api.get("/api/v1/auth/me");
    expect(generated.status).toBe(401);
    const id = generated.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.records().find((r) => r.request_id === id)).toMatchObject({ status: 401, user_id: null, path: "/api/v1/auth/me" });

    // An id that could forge log lines is replaced, not echoed.
    const forged = await api.request("GET", "/health", { headers: { "x-request-id": 'x" injected' } });
    expect(forged.headers.get("x-request-id")).not.toContain("injected");
  });

  test("tokens, passwords, Authorization headers and query strings never reach the log", async () => {
    const api = client(s.running.url);
    const bob = await api.newUser("bob");
    await api.get("/api/v1/auth/me", bob.token);
    await api.request("POST", "/api/v1/auth/login", { form: { username: bob.user.username, password: "wrong password 123" } });
    await api.get(`/api/v1/users?q=${bob.token}`, bob.token);
    const text = s.lines.join("");
    expect(text).not.toContain(bob.token);
    expect(text).not.toContain(bob.token.split(".")[1]!);
    expect(text).not.toContain(bob.password);
    expect(text).not.toContain("wrong password 123");
    expect(text.toLowerCase()).not.toContain("bearer");
    expect(text).not.toContain("secret-search");
  });

  test("a socket session logs one line when it closes, with user, duration and frames in", async () => {
    const api = client(s.running.url);
    const carol = await api.newUser("carol");
    const socket = await connect(s.running.url, carol.token);
    socket.send({ type: "ping" });
    await socket.waitType("pong");
    socket.close();
    await socket.waitClose();
    let line: Record<string, any> | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = s.records().find((r) => r.msg === "socket closed" && r.user_id === carol.user.id);
      if (!line) await Bun.sleep(20);
    }
    expect(line).toMatchObject({ level: "info", frames_in: 2 });
    expect(typeof line!.duration_ms).toBe("number");
    expect(JSON.stringify(line)).not.toContain(carol.token);
  });
});

describe("/metrics", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  test("counts requests by route template and status, with latency histograms", async () => {
    const api = client(server.url);
    const a = await api.newUser("a");
    const b = await api.newUser("b");
    const dm = await api.dm(a.token, b.user.id);
    await api.get(`/api/v1/conversations/${dm.body.id}`, a.token);
    await api.get(`/api/v1/conversations/${dm.body.id}`, a.token);
    await api.get(`/api/v1/conversations/${crypto.randomUUID()}`, a.token);
    await api.get("/no/such/path/" + crypto.randomUUID());
    const res = await api.get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = res.body as string;
    const route = "/api/v1/conversations/:conversation_id";
    expect(sample(text, "chat_http_requests_total", { method: "GET", route, status: "200" })).toBe(2);
    expect(sample(text, "chat_http_requests_total", { method: "GET", route, status: "404" })).toBe(1);
    expect(sample(text, "chat_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
    expect(sample(text, "chat_http_request_duration_seconds_count", { method: "GET", route })).toBe(3);
    expect(sample(text, "chat_http_request_duration_seconds_bucket", { method: "GET", route, le: "+Inf" })).toBe(3);
    expect(text).not.toContain(dm.body.id);
    expect(text).toContain("# TYPE chat_http_request_duration_seconds histogram");
  });

  test("reports open sockets, messages stored and published, database and WAL size, memory", async () => {
    const api = client(server.url);
    const a = await api.newUser("a");
    const b = await api.newUser("b");
    const dm = await api.dm(a.token, b.user.id);
    const before = (await api.get("/metrics")).body as string;
    const socket = await connect(server.url, b.token);
    await api.send(a.token, dm.body.id, "one");
    await api.send(a.token, dm.body.id, "two");
    await socket.waitFor((f) => f.type === "new_message" && f.message.seq === 2);
    const after = (await api.get("/metrics")).body as string;
    expect(sample(after, "chat_websocket_connections", { state: "authenticated" })).toBe(1);
    expect(sample(after, "chat_messages_stored_total")! - sample(before, "chat_messages_stored_total")!).toBe(2);
    expect(sample(after, "chat_events_published_total")! - sample(before, "chat_events_published_total")!).toBeGreaterThanOrEqual(2);
    expect(sample(after, "chat_database_size_bytes")).toBeGreaterThan(0);
    expect(sample(after, "chat_database_wal_size_bytes")).toBeGreaterThanOrEqual(0);
    expect(sample(after, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sample(after, "process_heap_used_bytes")).toBeGreaterThan(0);
    socket.close();
  });

  test("with a metrics token it needs that bearer token; disabled it is a 404", async () => {
    const guarded = await startTestServer({ metricsToken: "scrape-me-please" });
    const off = await startTestServer({ metrics: false });
    try {
      const api = client(guarded.url);
      expect((await api.get("/metrics")).status).toBe(401);
      expect((await api.get("/metrics")).headers.get("www-authenticate")).toContain("Bearer");
      expect((await api.get("/metrics", "wrong-token")).status).toBe(401);
      const ok = await api.get("/metrics", "scrape-me-please");
      expect(ok.status).toBe(200);
      expect(ok.body).toContain("chat_http_requests_total");
      expect((await client(off.url).get("/metrics")).status).toBe(404);
    } finally {
      await guarded.close();
      await off.close();
    }
  });
});
