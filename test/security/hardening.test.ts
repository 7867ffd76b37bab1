// Smaller holes from the outside review (issue 11.7): objects that cannot become strings, messages of
// nothing visible, token caching, and the security headers on JSON and /docs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Api, client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { connect } from "../support/socket";
import { JSON_CSP } from "../../src/http/response-policy";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const NOT_STRINGS: unknown[] = [{ toString: 1 }, { valueOf: 1 }, { toString: 1, valueOf: 1 }, [{ toString: 1 }], { a: { toString: 1 } }];

describe("an object where a string belongs is a 422, never a 500", () => {
  for (const value of NOT_STRINGS) {
    test(`login and signup with username ${JSON.stringify(value)}`, async () => {
      const login = await api.post("/api/v1/auth/login", { username: value, password: "whatever1" });
      expect(login.status).toBe(422);
      expect(login.body).toEqual({ code: "validation_error", detail: expect.stringContaining("username") });
      const signup = await api.post("/api/v1/auth/signup", { username: value, email: "a@example.com", password: "long enough" });
      expect(signup.status).toBe(422);
      expect(signup.body.code).toBe("validation_error");
    });
  }

  test("an escaped key (\\u0074oString) is caught too", async () => {
    const res = await api.request("POST", "/api/v1/auth/login", { raw: '{"username":{"\\u0074oString":1},"password":"x"}' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("validation_error");
  });

  test("message content {toString: 1}", async () => {
    const a = await api.newUser("ts");
    const b = await api.newUser("ts");
    const dm = await api.dm(a.token, b.user.id);
    for (const value of NOT_STRINGS) {
      const res = await api.request("POST", `/api/v1/conversations/${dm.body.id}/messages`, { token: a.token, body: { content: value } });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({ code: "validation_error", detail: expect.stringContaining("content") });
    }
  });
});

describe("content made only of invisible characters is refused", () => {
  const INVISIBLE = ["\u200b", "\u202e", "\u0000", "\ufeff", "\u200b\u200c\u200d\u2060", "\u00a0\u3000\u2028", "\u3164", "\u2800", "\u0007\u001f", " \u200b "];

  test("REST: 422 naming content, nothing stored", async () => {
    const a = await api.newUser("inv");
    const b = await api.newUser("inv");
    const dm = await api.dm(a.token, b.user.id);
    for (const content of INVISIBLE) {
      const res = await api.send(a.token, dm.body.id, content);
      expect(res.status, JSON.stringify(content)).toBe(422);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.detail).toContain("content");
    }
    const page = await api.get(`/api/v1/conversations/${dm.body.id}/messages`, a.token);
    expect(page.body).toEqual([]);
    // Invisible characters beside visible ones are still a message.
    expect((await api.send(a.token, dm.body.id, "\u200bhi\u202e")).status).toBe(201);
  });

  test("socket: an error frame with ref, the socket stays open", async () => {
    const a = await api.newUser("invws");
    const b = await api.newUser("invws");
    const dm = await api.dm(a.token, b.user.id);
    const ws = await connect(server.url, a.token);
    try {
      for (const [i, content] of INVISIBLE.entries()) {
        ws.send({ type: "message", conversation_id: dm.body.id, content, client_msg_id: `inv-${i}` });
        const error = await ws.waitFor((f) => f.type === "error" && f.ref === `inv-${i}`);
        expect(error.code).toBe("validation_error");
      }
      ws.send({ type: "message", conversation_id: dm.body.id, content: "visible", client_msg_id: "ok" });
      expect((await ws.waitType("message_ack")).message.content).toBe("visible");
      expect(ws.ofType("message_ack")).toHaveLength(1);
    } finally {
      ws.close();
    }
  });
});

describe("headers", () => {
  test("a login response (JSON and OAuth2 form) is never cached", async () => {
    const { user, password } = await api.newUser("cache");
    const json = await api.post("/api/v1/auth/login", { username: user.username, password });
    const form = await api.request("POST", "/api/v1/auth/login", { form: { username: user.username, password } });
    for (const res of [json, form]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("pragma")).toBe("no-cache");
    }
  });

  test("every JSON response is nosniff with a CSP that allows nothing: success, error, 404, message page", async () => {
    const a = await api.newUser("hdr");
    const b = await api.newUser("hdr");
    const dm = await api.dm(a.token, b.user.id);
    await api.send(a.token, dm.body.id, "hello");
    const responses = [
      await api.get("/api/v1/auth/me", a.token),
      await api.get("/api/v1/auth/me"),
      await api.get("/api/v1/nothing-here", a.token),
      await api.get(`/api/v1/conversations/${dm.body.id}/messages`, a.token),
      await api.post("/api/v1/auth/login", { username: "x" }),
      await api.get("/health"),
      await api.get("/openapi.json"),
    ];
    for (const res of responses) {
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("content-security-policy")).toBe(JSON_CSP);
    }
    expect(JSON_CSP).toContain("default-src 'none'");
    expect(JSON_CSP).toContain("frame-ancestors 'none'");
  });

  test("/docs has a CSP that allows only its own script, and nosniff; its script is nosniff", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.text()).toContain('src="/docs/scalar.js"');
    const script = await fetch(`${server.url}/docs/scalar.js`);
    expect(script.headers.get("x-content-type-options")).toBe("nosniff");
    await script.arrayBuffer();
  });
});
