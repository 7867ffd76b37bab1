// REST contract: signup, login (JSON, OAuth2 form, by email), /auth/me and the bearer-token 401s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, PASSWORD, tag, userNamed } from "../support/api";
import { expectError, expectExactKeys, expectUserView } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { craftToken } from "../support/tokens";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const signup = (body: Record<string, unknown>) => api.post(`${API}/auth/signup`, body);
const valid = (username = tag()) => ({ username, email: `${username}@example.com`, password: PASSWORD });

describe("signup", () => {
  test("creates the account with 201 and returns the user with its email", async () => {
    const body = { ...valid(), full_name: "Ada Lovelace" };
    const res = await signup(body);
    expect(res.status).toBe(201);
    expectUserView(res.body, true);
    expect(res.body.username).toBe(body.username);
    expect(res.body.email).toBe(body.email);
    expect(res.body.full_name).toBe("Ada Lovelace");
    expect(res.body.avatar_url).toBeNull();
    expect(res.body.bio).toBeNull();
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
  });

  test("full_name is optional and null when absent", async () => {
    const res = await signup(valid());
    expect(res.status).toBe(201);
    expect(res.body.full_name).toBeNull();
  });

  test("the password is stored only as a salted argon2 hash", async () => {
    const a = await signup(valid());
    const b = await signup(valid());
    // Read through the storage port, so the check holds on either engine.
    const stored = await Promise.all([a, b].map((r) => server.deps.stores.users.byId(r.body.id)));
    const rows = stored.filter((u) => u !== null).map((u) => ({ password_hash: u.passwordHash }));
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.password_hash).toStartWith("$argon2");
      expect(r.password_hash).not.toContain(PASSWORD);
    }
    expect(rows[0]!.password_hash).not.toBe(rows[1]!.password_hash);
  });

  test("a username taken in another letter case is a 409", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    const res = await signup({ ...valid(name.toUpperCase()), email: `other-${name}@example.com` });
    expectError(res, 409, { code: "username_taken" });
  });

  test("a taken email is a 409, in any letter case", async () => {
    const first = valid();
    expect((await signup(first)).status).toBe(201);
    expectError(await signup({ ...valid(), email: first.email }), 409, { code: "email_taken" });
    expectError(await signup({ ...valid(), email: first.email.toUpperCase() }), 409, { code: "email_taken" });
  });

  test("concurrent signups for one username: exactly one 201, the rest 409", async () => {
    const name = tag();
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => signup({ ...valid(i % 2 ? name : name.toUpperCase()), email: `${name}-${i}@example.com` })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expectError(r, 409, { code: "username_taken" });
  });

  test("usernames of 3 and 32 characters of [A-Za-z0-9_.-] are accepted", async () => {
    const short = tag().slice(-3);
    expect((await signup(valid(`a.${short.slice(-1)}`))).status).toBe(201);
    const long = (tag() + "_.-" + "x".repeat(32)).slice(0, 32);
    expect(long).toHaveLength(32);
    expect((await signup(valid(long))).status).toBe(201);
  });

  for (const [why, username] of [
    ["2 characters", "ab"],
    ["33 characters", "a".repeat(33)],
    ["a space", "has space"],
    ["a slash", "a/b/c"],
    ["non-ASCII letters", "zoë_user"],
    ["an @", "me@home"],
    ["empty", ""],
  ] as const) {
    test(`a username with ${why} is a 422 naming username`, async () => {
      expectError(await signup({ ...valid(), username }), 422, { field: "username" });
    });
  }

  test("a password of 8 characters is accepted; 7 or 257 is a 422 naming password", async () => {
    expect((await signup({ ...valid(), password: "12345678" })).status).toBe(201);
    expectError(await signup({ ...valid(), password: "1234567" }), 422, { field: "password" });
    expectError(await signup({ ...valid(), password: "p".repeat(257) }), 422, { field: "password" });
  });

  test("a password of 256 characters is accepted and works for login", async () => {
    const body = { ...valid(), password: "p".repeat(256) };
    expect((await signup(body)).status).toBe(201);
    expect((await api.post(`${API}/auth/login`, { username: body.username, password: body.password })).status).toBe(200);
  });

  test("an invalid email is a 422 naming email", async () => {
    expectError(await signup({ ...valid(), email: "not-an-email" }), 422, { field: "email" });
  });

  test("missing required fields are a 422 naming the field", async () => {
    const { password: _p, ...noPassword } = valid();
    expectError(await signup(noPassword), 422, { field: "password" });
    const { email: _e, ...noEmail } = valid();
    expectError(await signup(noEmail), 422, { field: "email" });
  });

  test("unknown fields are a 422 naming the field and create nothing", async () => {
    const body = valid();
    expectError(await signup({ ...body, is_admin: true }), 422, { field: "is_admin" });
    expectError(await signup({ ...body, id: crypto.randomUUID() }), 422, { field: "id" });
    expect((await signup(body)).status).toBe(201);
  });
});

describe("login", () => {
  test("JSON login returns a bearer token that works on /auth/me", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    const res = await api.post(`${API}/auth/login`, { username: name, password: PASSWORD });
    expect(res.status).toBe(200);
    expectExactKeys(res.body, ["access_token", "expires_in", "token_type"]);
    expect(res.body.token_type).toBe("bearer");
    expect(Number.isInteger(res.body.expires_in) && res.body.expires_in > 0).toBe(true);
    const me = await api.get(`${API}/auth/me`, res.body.access_token);
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(name);
  });

  test("the OAuth2 password form (x-www-form-urlencoded) logs in like the original service", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    const res = await api.request("POST", `${API}/auth/login`, {
      form: { grant_type: "password", username: name, password: PASSWORD, scope: "", client_id: "", client_secret: "" },
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("bearer");
    expect((await api.get(`${API}/auth/me`, res.body.access_token)).status).toBe(200);
  });

  test("the OAuth2 form with a wrong password is the same 401", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    const res = await api.request("POST", `${API}/auth/login`, { form: { username: name, password: "wrong password" } });
    expectError(res, 401);
  });

  test("the username may be the email, in any letter case", async () => {
    const body = valid();
    expect((await signup(body)).status).toBe(201);
    for (const username of [body.email, body.email.toUpperCase()]) {
      const res = await api.post(`${API}/auth/login`, { username, password: PASSWORD });
      expect(res.status).toBe(200);
    }
  });

  test("the username is matched case-insensitively", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    expect((await api.post(`${API}/auth/login`, { username: name.toUpperCase(), password: PASSWORD })).status).toBe(200);
  });

  test("an unknown user and a wrong password give the same 401 with WWW-Authenticate: Bearer", async () => {
    const name = tag();
    expect((await signup(valid(name))).status).toBe(201);
    const unknown = await api.post(`${API}/auth/login`, { username: tag(), password: PASSWORD });
    const wrong = await api.post(`${API}/auth/login`, { username: name, password: "not the password" });
    expectError(unknown, 401);
    expectError(wrong, 401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.headers.get("www-authenticate")).toBe(unknown.headers.get("www-authenticate"));
  });

  test("a missing password is a 422 naming password", async () => {
    expectError(await api.post(`${API}/auth/login`, { username: tag() }), 422, { field: "password" });
  });

  test("unknown JSON fields are a 422", async () => {
    expectError(await api.post(`${API}/auth/login`, { username: tag(), password: PASSWORD, remember: true }), 422, {
      field: "remember",
    });
  });
});

describe("/auth/me and bearer tokens", () => {
  test("returns the caller's own profile with email", async () => {
    const u = await userNamed(api, tag(), "Grace Hopper");
    const res = await api.get(`${API}/auth/me`, u.token);
    expect(res.status).toBe(200);
    expectUserView(res.body, true);
    expect(res.body.id).toBe(u.user.id);
    expect(res.body.email).toBe(u.user.email);
    expect(res.body.full_name).toBe("Grace Hopper");
  });

  test("no Authorization header is a 401", async () => {
    expectError(await api.get(`${API}/auth/me`), 401);
  });

  const cases: [string, (s: TestServer, userId: string, token: string) => Promise<string>][] = [
    ["a garbage bearer token", async () => "Bearer not.a.token"],
    ["a non-JWT bearer token", async () => "Bearer abcdef"],
    ["an empty bearer", async () => "Bearer "],
    ["the Basic scheme", async () => `Basic ${btoa("user:pass")}`],
    ["a token without a scheme", async (_s, _u, token) => token],
    ["a token with a tampered signature", async (_s, _u, token) => `Bearer ${token.slice(0, -4)}${token.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`],
    ["an expired token", async (s, userId) => `Bearer ${await craftToken(s, { sub: userId, exp: Math.floor(Date.now() / 1000) - 60 })}`],
    ["a token signed with another secret", async (s, userId) => `Bearer ${await craftToken(new TextEncoder().encode("x".repeat(48)), { sub: userId })}`],
    ["a token for a user that does not exist", async (s) => `Bearer ${await craftToken(s, { sub: crypto.randomUUID() })}`],
  ];
  for (const [why, header] of cases) {
    test(`${why} is a 401 with WWW-Authenticate: Bearer`, async () => {
      const u = await userNamed(api, tag());
      const res = await api.request("GET", `${API}/auth/me`, { headers: { authorization: await header(server, u.user.id, u.token) } });
      expectError(res, 401);
    });
  }

  test("a well-formed token signed with the server's secret is accepted (control for the cases above)", async () => {
    const u = await userNamed(api, tag());
    const token = await craftToken(server, { sub: u.user.id });
    expect((await api.get(`${API}/auth/me`, token)).status).toBe(200);
  });
});

describe("login rate limit", () => {
  test("an account gets 429 with Retry-After after 10 attempts in a minute", async () => {
    const limited = await startTestServer();
    try {
      const lapi = client(limited.url);
      const name = tag();
      expect((await lapi.post(`${API}/auth/signup`, valid(name))).status).toBe(201);
      // Ten attempts always pass; the limit is a fixed window, so allow one window roll before the 429.
      for (let i = 0; i < 10; i++) {
        expectError(await lapi.post(`${API}/auth/login`, { username: name, password: "wrong password" }), 401);
      }
      let res = await lapi.post(`${API}/auth/login`, { username: name, password: PASSWORD });
      for (let i = 0; res.status !== 429 && i < 11; i++) {
        res = await lapi.post(`${API}/auth/login`, { username: name, password: "wrong password" });
      }
      expectError(res, 429, { code: "rate_limited" });
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      // Other accounts are unaffected.
      const other = tag();
      expect((await lapi.post(`${API}/auth/signup`, valid(other))).status).toBe(201);
      expect((await lapi.post(`${API}/auth/login`, { username: other, password: PASSWORD })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
