// REST contract: user search and paging, profiles (email only for yourself), and PUT /users/me.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, PASSWORD, randomUuid, tag, userNamed } from "../support/api";
import { expectError, expectUserView } from "../support/expect";
import { seedUsers, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const search = (token: string, query: string) => api.get(`${API}/users?${query}`, token);
const names = (list: any[]) => list.map((u) => u.username);

describe("GET /users (search)", () => {
  test("q matches a username prefix, case-insensitively, and not the middle of a name", async () => {
    const t = tag();
    const me = await userNamed(api, `${t}_alpha`);
    await userNamed(api, `${t}_beta`);
    await userNamed(api, `x${t}_gamma`);
    const res = await search(me.token, `q=${t.toUpperCase()}`);
    expect(res.status).toBe(200);
    expect(names(res.body).sort()).toEqual([`${t}_alpha`, `${t}_beta`]);
    expect(names((await search(me.token, `q=${t}_b`)).body)).toEqual([`${t}_beta`]);
  });

  test("q matches a full-name prefix", async () => {
    const t = tag();
    const me = await userNamed(api, tag());
    const target = await userNamed(api, tag(), `${t} Lovelace`);
    const res = await search(me.token, `q=${encodeURIComponent(`${t} love`)}`);
    expect(res.status).toBe(200);
    expect(res.body.map((u: any) => u.id)).toEqual([target.user.id]);
  });

  test("email appears only on the caller's own entry", async () => {
    const t = tag();
    const me = await userNamed(api, `${t}_me`);
    await userNamed(api, `${t}_other`);
    const res = await search(me.token, `q=${t}`);
    expect(res.body).toHaveLength(2);
    for (const u of res.body) expectUserView(u, u.id === me.user.id);
    expect(res.body.find((u: any) => u.id === me.user.id).email).toBe(me.user.email);
  });

  test("limit defaults to 50, accepts 100, and 101 is a 422 naming limit", async () => {
    const t = tag();
    const me = await userNamed(api, tag());
    await seedUsers(server, t, 105);
    expect((await search(me.token, `q=${t}`)).body).toHaveLength(50);
    expect((await search(me.token, `q=${t}&limit=100`)).body).toHaveLength(100);
    expectError(await search(me.token, `q=${t}&limit=101`), 422, { field: "limit" });
    expectError(await search(me.token, `q=${t}&limit=0`), 422, { field: "limit" });
  });

  test("offset pages through the results without overlap or gaps", async () => {
    const t = tag();
    const me = await userNamed(api, tag());
    const all = (await seedUsers(server, t, 25)).map((u) => u.username).sort();
    const pages: string[] = [];
    for (let offset = 0; offset < 30; offset += 10) pages.push(...names((await search(me.token, `q=${t}&limit=10&offset=${offset}`)).body));
    expect(pages).toEqual(all);
    expect((await search(me.token, `q=${t}&offset=25`)).body).toEqual([]);
    expectError(await search(me.token, `offset=-1`), 422, { field: "offset" });
  });

  test("without q it lists users, bounded by the limit", async () => {
    const me = await userNamed(api, tag());
    const res = await search(me.token, "limit=2");
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
  });

  test("LIKE wildcards and SQL in q match literally", async () => {
    const t = tag();
    const me = await userNamed(api, tag());
    const percent = await userNamed(api, tag(), `${t}% real`);
    await userNamed(api, tag(), `${t}X real`);
    const under = await userNamed(api, `${t}_u`);
    await userNamed(api, `${t}zu`);
    expect((await search(me.token, `q=${encodeURIComponent(t + "%")}`)).body.map((u: any) => u.id)).toEqual([percent.user.id]);
    expect((await search(me.token, `q=${encodeURIComponent(t + "_")}`)).body.map((u: any) => u.id)).toEqual([under.user.id]);
    for (const q of ["%", "_", "' OR '1'='1", "'; DROP TABLE users; --", '" OR 1=1 --', "\\"]) {
      const res = await search(me.token, `q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
      expect(res.body, q).toEqual([]);
    }
    expect((await api.get(`${API}/users/${me.user.id}`, me.token)).status).toBe(200);
  });

  test("unicode and emoji in full names are searchable case-insensitively", async () => {
    const t = tag();
    const me = await userNamed(api, tag());
    const zoe = await userNamed(api, tag(), `Zoë${t} 🎉 Ünal`);
    for (const q of [`zoë${t}`, `ZOË${t}`, `Zoë${t} 🎉`]) {
      const res = await search(me.token, `q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
      expect(res.body.map((u: any) => u.id), q).toEqual([zoe.user.id]);
    }
    expect((await api.get(`${API}/users/${zoe.user.id}`, me.token)).body.full_name).toBe(`Zoë${t} 🎉 Ünal`);
  });
});

describe("GET /users/{user_id}", () => {
  test("another user's profile has no email", async () => {
    const me = await userNamed(api, tag());
    const other = await userNamed(api, tag(), "Other Person");
    const res = await api.get(`${API}/users/${other.user.id}`, me.token);
    expect(res.status).toBe(200);
    expectUserView(res.body, false);
    expect(res.body.username).toBe(other.user.username);
    expect(res.body.full_name).toBe("Other Person");
  });

  test("your own profile has your email", async () => {
    const me = await userNamed(api, tag());
    const res = await api.get(`${API}/users/${me.user.id}`, me.token);
    expect(res.status).toBe(200);
    expectUserView(res.body, true);
    expect(res.body.email).toBe(me.user.email);
  });

  test("an unknown id is a 404", async () => {
    const me = await userNamed(api, tag());
    expectError(await api.get(`${API}/users/${randomUuid()}`, me.token), 404, { code: "not_found" });
  });
});

describe("PUT /users/me", () => {
  test("updates full_name, bio, avatar_url and returns the new profile with email", async () => {
    const me = await userNamed(api, tag(), "Old Name");
    const res = await api.put(
      `${API}/users/me`,
      { full_name: "New Name", bio: "I like 🦀 and 'quotes'", avatar_url: "https://example.com/a.png" },
      me.token,
    );
    expect(res.status).toBe(200);
    expectUserView(res.body, true);
    expect(res.body).toMatchObject({ full_name: "New Name", bio: "I like 🦀 and 'quotes'", avatar_url: "https://example.com/a.png" });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(me.user.updated_at ?? res.body.created_at));
    const again = await api.get(`${API}/auth/me`, me.token);
    expect(again.body).toMatchObject({ full_name: "New Name", bio: "I like 🦀 and 'quotes'" });
  });

  test("null clears optional fields; an empty body changes nothing", async () => {
    const me = await userNamed(api, tag(), "Some Name");
    expect((await api.put(`${API}/users/me`, { bio: "hello" }, me.token)).status).toBe(200);
    const cleared = await api.put(`${API}/users/me`, { full_name: null, bio: null }, me.token);
    expect(cleared.status).toBe(200);
    expect(cleared.body.full_name).toBeNull();
    expect(cleared.body.bio).toBeNull();
    const same = await api.put(`${API}/users/me`, {}, me.token);
    expect(same.status).toBe(200);
    expect(same.body.username).toBe(me.user.username);
  });

  test("a new full name is found by search and the old one is not", async () => {
    const t = tag();
    const me = await userNamed(api, tag(), `${t}old`);
    expect((await api.put(`${API}/users/me`, { full_name: `${t}new` }, me.token)).status).toBe(200);
    expect((await search(me.token, `q=${t}new`)).body.map((u: any) => u.id)).toEqual([me.user.id]);
    expect((await search(me.token, `q=${t}old`)).body).toEqual([]);
  });

  for (const field of ["id", "created_at", "updated_at", "is_online", "last_seen_at", "password_hash", "token_version", "role"]) {
    test(`the field ${field} is rejected with 422 and nothing is applied`, async () => {
      const me = await userNamed(api, tag(), "Unchanged");
      const value = field === "id" ? randomUuid() : field === "is_online" ? true : "2000-01-01T00:00:00.000Z";
      expectError(await api.put(`${API}/users/me`, { full_name: "Changed", [field]: value }, me.token), 422, { field });
      const after = await api.get(`${API}/auth/me`, me.token);
      expect(after.body.id).toBe(me.user.id);
      expect(after.body.full_name).toBe("Unchanged");
      expect(after.body.created_at).toBe(me.user.created_at);
    });
  }

  test("an invalid username or email is a 422 naming it", async () => {
    const me = await userNamed(api, tag());
    expectError(await api.put(`${API}/users/me`, { username: "no spaces allowed" }, me.token), 422, { field: "username" });
    expectError(await api.put(`${API}/users/me`, { email: "nope" }, me.token), 422, { field: "email" });
    expectError(await api.put(`${API}/users/me`, { full_name: 42 }, me.token), 422, { field: "full_name" });
  });

  test("avatar_url takes http(s) URLs and paths on this server, never javascript: or data: (422 naming it)", async () => {
    const me = await userNamed(api, tag());
    for (const bad of ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x", "//evil.example/a.png", "https://a b"]) {
      const res = await api.put(`${API}/users/me`, { avatar_url: bad }, me.token);
      expectError(res, 422, { field: "avatar_url", context: bad });
      expect(res.body.detail).toBe("avatar_url: Expected an http(s) URL or a path on this server");
    }
    for (const good of ["https://example.com/a.png", "HTTP://example.com/a.png?x=1", "/api/v1/attachments/0190f0f0-0000-7000-8000-000000000000", "", null]) {
      const res = await api.put(`${API}/users/me`, { avatar_url: good }, me.token);
      expect(res.status, String(good)).toBe(200);
      expect(res.body.avatar_url).toBe(good);
    }
  });

  test("changing the username lets you log in with the new one only", async () => {
    const me = await userNamed(api, tag());
    const next = tag();
    const res = await api.put(`${API}/users/me`, { username: next }, me.token);
    expect(res.status).toBe(200);
    expect(res.body.username).toBe(next);
    expect((await api.post(`${API}/auth/login`, { username: next, password: PASSWORD })).status).toBe(200);
    expectError(await api.post(`${API}/auth/login`, { username: me.user.username, password: PASSWORD }), 401);
  });

  test("changing only the letter case of your own username is allowed", async () => {
    const me = await userNamed(api, tag());
    const res = await api.put(`${API}/users/me`, { username: me.user.username.toUpperCase() }, me.token);
    expect(res.status).toBe(200);
    expect(res.body.username).toBe(me.user.username.toUpperCase());
  });

  test("a username or email someone else has is a 409, case-insensitively", async () => {
    const me = await userNamed(api, tag());
    const other = await userNamed(api, tag());
    expectError(await api.put(`${API}/users/me`, { username: other.user.username.toUpperCase() }, me.token), 409, {
      code: "username_taken",
    });
    expectError(await api.put(`${API}/users/me`, { email: other.user.email.toUpperCase() }, me.token), 409, { code: "email_taken" });
    expect((await api.get(`${API}/auth/me`, me.token)).body.username).toBe(me.user.username);
  });

  test("changing the email lets you log in with the new one", async () => {
    const me = await userNamed(api, tag());
    const email = `${tag()}@elsewhere.example`;
    const res = await api.put(`${API}/users/me`, { email }, me.token);
    expect(res.status).toBe(200);
    expect(res.body.email).toBe(email);
    expect((await api.post(`${API}/auth/login`, { username: email, password: PASSWORD })).status).toBe(200);
    expectError(await api.post(`${API}/auth/login`, { username: me.user.email, password: PASSWORD }), 401);
  });

  test("two users racing for one new username: one 200, one 409", async () => {
    const [a, b] = await Promise.all([userNamed(api, tag()), userNamed(api, tag())]);
    const wanted = tag();
    const results = await Promise.all([a, b].map((u) => api.put(`${API}/users/me`, { username: wanted }, u.token)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  test("changing the password needs current_password (422 naming it)", async () => {
    const me = await userNamed(api, tag());
    expectError(await api.put(`${API}/users/me`, { password: "a brand new password" }, me.token), 422, { field: "current_password" });
    expect((await api.post(`${API}/auth/login`, { username: me.user.username, password: PASSWORD })).status).toBe(200);
  });

  test("a wrong current_password is a 403 and changes nothing", async () => {
    const me = await userNamed(api, tag());
    const res = await api.put(`${API}/users/me`, { password: "a brand new password", current_password: "not it at all" }, me.token);
    expectError(res, 403);
    expect((await api.get(`${API}/auth/me`, me.token)).status).toBe(200);
    expect((await api.post(`${API}/auth/login`, { username: me.user.username, password: PASSWORD })).status).toBe(200);
  });

  test("a new password shorter than 8 characters is a 422 naming password", async () => {
    const me = await userNamed(api, tag());
    expectError(await api.put(`${API}/users/me`, { password: "short", current_password: PASSWORD }, me.token), 422, { field: "password" });
  });

  test("after a password change the old token and old password stop working and the new ones work", async () => {
    const me = await userNamed(api, tag());
    const secondDevice = (await api.post(`${API}/auth/login`, { username: me.user.username, password: PASSWORD })).body.access_token;
    const res = await api.put(`${API}/users/me`, { password: "a brand new password", current_password: PASSWORD }, me.token);
    expect(res.status).toBe(200);
    expectUserView(res.body, true);
    expectError(await api.get(`${API}/auth/me`, me.token), 401);
    expectError(await api.get(`${API}/auth/me`, secondDevice), 401);
    expectError(await api.post(`${API}/auth/login`, { username: me.user.username, password: PASSWORD }), 401);
    const login = await api.post(`${API}/auth/login`, { username: me.user.username, password: "a brand new password" });
    expect(login.status).toBe(200);
    expect((await api.get(`${API}/auth/me`, login.body.access_token)).status).toBe(200);
  });
});
