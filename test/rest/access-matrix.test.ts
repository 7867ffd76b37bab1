// REST contract: who may call what. Every route that takes an id: a member gets 2xx, a non-member gets
// exactly the 404 of a random nonexistent id (same body), and an anonymous caller gets a 401.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, type ApiResponse, client, randomUuid, type TestUser } from "../support/api";
import { expectError } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

/** A fresh world per test: alice and bob share a direct conversation and a group; eve is in neither. */
async function world() {
  const [alice, bob, eve] = (await Promise.all([api.newUser("alice"), api.newUser("bob"), api.newUser("eve")])) as TestUser[];
  const dm = (await api.dm(alice!.token, bob!.user.id)).body.id as string;
  const group = (await api.group(alice!.token, "members only", [bob!.user.id])).body.id as string;
  const dmMessage = (await api.send(bob!.token, dm, "dm secret")).body.id as string;
  const groupMessage = (await api.send(bob!.token, group, "group secret")).body.id as string;
  return { alice: alice!, bob: bob!, eve: eve!, dm, group, dmMessage, groupMessage };
}
type World = Awaited<ReturnType<typeof world>>;

interface Route {
  name: string;
  /** The real ids a member may use and a non-member must not see. */
  ids(w: World): string[];
  call(id: string, token?: string): Promise<ApiResponse>;
  memberStatus: number;
}

const conversationRoutes: Route[] = [
  { name: "GET /conversations/{id}", ids: (w) => [w.dm, w.group], call: (id, token) => api.get(`${API}/conversations/${id}`, token), memberStatus: 200 },
  {
    name: "PUT /conversations/{id} (group rename)",
    ids: (w) => [w.group],
    call: (id, token) => api.put(`${API}/conversations/${id}`, { name: "renamed" }, token),
    memberStatus: 200,
  },
  {
    name: "PUT /conversations/{id} (empty body)",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.put(`${API}/conversations/${id}`, {}, token),
    memberStatus: 200,
  },
  {
    name: "GET /conversations/{id}/messages",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.get(`${API}/conversations/${id}/messages`, token),
    memberStatus: 200,
  },
  {
    name: "GET /conversations/{id}/messages?after=0",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.get(`${API}/conversations/${id}/messages?after=0`, token),
    memberStatus: 200,
  },
  {
    name: "GET /conversations/{id}/messages?before=2",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.get(`${API}/conversations/${id}/messages?before=2`, token),
    memberStatus: 200,
  },
  {
    name: "POST /conversations/{id}/messages",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.request("POST", `${API}/conversations/${id}/messages`, { token, body: { content: "knock knock" } }),
    memberStatus: 201,
  },
  {
    name: "POST /conversations/{id}/messages with client_msg_id",
    ids: (w) => [w.dm, w.group],
    call: (id, token) =>
      api.request("POST", `${API}/conversations/${id}/messages`, { token, body: { content: "knock", client_msg_id: crypto.randomUUID() } }),
    memberStatus: 201,
  },
  {
    name: "PUT /conversations/{id}/settings",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.put(`${API}/conversations/${id}/settings`, { pinned: true }, token),
    memberStatus: 200,
  },
  {
    name: "PUT /messages/{id}/read",
    ids: (w) => [w.dmMessage, w.groupMessage],
    call: (id, token) => api.request("PUT", `${API}/messages/${id}/read`, { token }),
    memberStatus: 200,
  },
  // Message life (issue 13): reactions are idempotent, so both members get 200 every time.
  ...(["PUT", "DELETE"] as const).map((method) => ({
    name: `${method} /messages/{id}/reactions/{emoji}`,
    ids: (w: World) => [w.dmMessage, w.groupMessage],
    call: (id: string, token?: string) => api.request(method, `${API}/messages/${id}/reactions/${encodeURIComponent("👍")}`, { token }),
    memberStatus: 200,
  })),
  {
    name: "GET /conversations/{id}/receipts",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.get(`${API}/conversations/${id}/receipts`, token),
    memberStatus: 200,
  },
  {
    name: "PUT /conversations/{id}/received",
    ids: (w) => [w.dm, w.group],
    call: (id, token) => api.put(`${API}/conversations/${id}/received`, { seq: 1 }, token),
    memberStatus: 200,
  },
];

/** What eve can observe of alice's world, to prove her denied calls changed nothing. */
async function observe(w: World) {
  const [dm, group, dmPage, groupPage, unread] = await Promise.all([
    api.get(`${API}/conversations/${w.dm}`, w.alice.token),
    api.get(`${API}/conversations/${w.group}`, w.alice.token),
    api.get(`${API}/conversations/${w.dm}/messages`, w.alice.token),
    api.get(`${API}/conversations/${w.group}/messages`, w.alice.token),
    api.get(`${API}/messages/unread/count`, w.alice.token),
  ]);
  const strip = (c: any) => ({ ...c, participants: c.participants.map((p: any) => ({ ...p, is_online: null, last_seen_at: null })) });
  return { dm: strip(dm.body), group: strip(group.body), dmPage: dmPage.body, groupPage: groupPage.body, unread: unread.body };
}

describe("routes that take an id", () => {
  for (const route of conversationRoutes) {
    test(`${route.name}: member 2xx, non-member 404 identical to a nonexistent id, anonymous 401`, async () => {
      const w = await world();
      const missing = await route.call(randomUuid(), w.eve.token);
      expectError(missing, 404, { code: "not_found", context: `${route.name} random id` });

      const before = await observe(w);
      for (const id of route.ids(w)) {
        const denied = await route.call(id, w.eve.token);
        expectError(denied, 404, { context: `${route.name} non-member` });
        expect(denied.body).toEqual(missing.body);
        expect(denied.headers.get("content-type")).toBe(missing.headers.get("content-type"));

        const anonymous = await route.call(id);
        expectError(anonymous, 401, { context: `${route.name} anonymous` });
        const garbage = await route.call(id, "not-a-token");
        expectError(garbage, 401, { context: `${route.name} garbage token` });
      }
      expect(await observe(w)).toEqual(before);

      for (const id of route.ids(w)) {
        for (const member of [w.alice, w.bob]) {
          const ok = await route.call(id, member.token);
          expect(ok.status, `${route.name} member ${JSON.stringify(ok.body)}`).toBe(route.memberStatus);
        }
      }
    });
  }

  test("GET /users/{id}: any signed-in user 200, unknown id 404, anonymous 401", async () => {
    const w = await world();
    expect((await api.get(`${API}/users/${w.alice.user.id}`, w.eve.token)).status).toBe(200);
    expectError(await api.get(`${API}/users/${randomUuid()}`, w.eve.token), 404, { code: "not_found" });
    expectError(await api.get(`${API}/users/${w.alice.user.id}`), 401);
  });

  test("a non-member's conversation list, unread count and search results reveal nothing of others' conversations", async () => {
    const w = await world();
    expect((await api.get(`${API}/conversations`, w.eve.token)).body).toEqual([]);
    expect((await api.get(`${API}/messages/unread/count`, w.eve.token)).body).toEqual({ unread_count: 0, mention_count: 0, conversations: [] });
    const found = (await api.get(`${API}/users?q=${w.alice.user.username}`, w.eve.token)).body;
    expect(found).toHaveLength(1);
    expect(found[0]).not.toHaveProperty("email");
  });

  test("a non-member cannot slip in by listing themselves or the conversation's members", async () => {
    const w = await world();
    // Creating a direct conversation with alice makes a new one; it never joins eve to alice and bob's.
    const own = await api.dm(w.eve.token, w.alice.user.id);
    expect(own.status).toBe(201);
    expect(own.body.id).not.toBe(w.dm);
    expectError(await api.get(`${API}/conversations/${w.dm}`, w.eve.token), 404);
    // A group eve creates with both of them is new, too.
    const g = await api.group(w.eve.token, "mine", [w.alice.user.id, w.bob.user.id]);
    expect(g.status).toBe(201);
    expect(g.body.id).not.toBe(w.group);
  });
});

describe("every authenticated route refuses an anonymous caller with 401", () => {
  const anonymous: [string, string, unknown?][] = [
    ["GET", `${API}/auth/me`],
    ["GET", `${API}/users`],
    ["GET", `${API}/users?q=a`],
    ["PUT", `${API}/users/me`, { bio: "x" }],
    ["GET", `${API}/users/${randomUuid()}`],
    ["POST", `${API}/conversations`, { participant_ids: [randomUuid()] }],
    ["GET", `${API}/conversations`],
    ["GET", `${API}/conversations/${randomUuid()}`],
    ["PUT", `${API}/conversations/${randomUuid()}`, { name: "x" }],
    ["GET", `${API}/conversations/${randomUuid()}/messages`],
    ["POST", `${API}/conversations/${randomUuid()}/messages`, { content: "x" }],
    ["PUT", `${API}/messages/${randomUuid()}/read`],
    ["PATCH", `${API}/messages/${randomUuid()}`, { content: "x" }],
    ["DELETE", `${API}/messages/${randomUuid()}`],
    ["PUT", `${API}/messages/${randomUuid()}/reactions/%F0%9F%91%8D`],
    ["DELETE", `${API}/messages/${randomUuid()}/reactions/%F0%9F%91%8D`],
    ["PUT", `${API}/conversations/${randomUuid()}/received`, { seq: 1 }],
    ["GET", `${API}/conversations/${randomUuid()}/receipts`],
    ["GET", `${API}/messages/unread/count`],
    ["POST", `${API}/conversations/${randomUuid()}/members`, { user_ids: [randomUuid()] }],
    ["DELETE", `${API}/conversations/${randomUuid()}/members/${randomUuid()}`],
    ["PATCH", `${API}/conversations/${randomUuid()}/members/${randomUuid()}`, { role: "admin" }],
    ["PUT", `${API}/conversations/${randomUuid()}/settings`, { muted: true }],
    ["PUT", `${API}/users/${randomUuid()}/block`],
    ["DELETE", `${API}/users/${randomUuid()}/block`],
    ["GET", `${API}/users/me/blocks`],
  ];
  for (const [method, path, body] of anonymous) {
    test(`${method} ${path.replace(/[0-9a-f-]{36}/g, "{id}")}`, async () => {
      expectError(await api.request(method, path, { body }), 401);
      expectError(await api.request(method, path, { body, headers: { authorization: "Basic YTpi" } }), 401);
    });
  }

  test("an anonymous caller gets 401 before any validation: bad ids, bodies and queries are not described", async () => {
    const cases: [string, string, unknown?][] = [
      ["GET", `${API}/conversations/not-a-uuid`],
      ["GET", `${API}/users/not-a-uuid`],
      ["PUT", `${API}/messages/not-a-uuid/read`],
      ["GET", `${API}/users?limit=1000`],
      ["GET", `${API}/conversations/${randomUuid()}/messages?before=1&after=2&limit=0`],
      ["POST", `${API}/conversations`, { participant_ids: "nope", extra: true }],
      ["POST", `${API}/conversations/${randomUuid()}/messages`, { content: 42 }],
      ["PUT", `${API}/users/me`, { id: randomUuid() }],
    ];
    for (const [method, path, body] of cases) expectError(await api.request(method, path, { body }), 401, { context: `${method} ${path}` });
  });
});

describe("public routes need no token", () => {
  test("signup, login, /health and /openapi.json answer without Authorization", async () => {
    const username = `pub_${Date.now().toString(36)}`;
    const signup = await api.post(`${API}/auth/signup`, { username, email: `${username}@example.com`, password: "long enough pw" });
    expect(signup.status).toBe(201);
    expect((await api.post(`${API}/auth/login`, { username, password: "long enough pw" })).status).toBe(200);
    expect((await api.get("/health")).status).toBe(200);
    const openapi = await api.get("/openapi.json");
    expect(openapi.status).toBe(200);
    expect(openapi.body.openapi).toMatch(/^3\./);
  });

  test("the OpenAPI document names the contract's paths without trailing slashes, and both spellings answer", async () => {
    const paths = Object.keys((await api.get("/openapi.json")).body.paths);
    expect(paths).toContain(`${API}/users`);
    expect(paths).toContain(`${API}/conversations`);
    expect(paths.filter((p) => p.endsWith("/"))).toEqual([]);
    const { token } = await api.newUser("slash");
    for (const path of [`${API}/users`, `${API}/users/`, `${API}/conversations`, `${API}/conversations/`]) {
      expect((await api.get(path, token)).status).toBe(200);
    }
  });
});
