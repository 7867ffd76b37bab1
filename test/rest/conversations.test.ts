// REST contract: creating direct conversations and groups, listing by activity, reading and renaming them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, randomUuid, tag, type TestUser } from "../support/api";
import { expectConversationView, expectError } from "../support/expect";
import { seedUsers, startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`c${i}`)));
const create = (token: string, body: unknown) => api.post(`${API}/conversations`, body, token);
const list = (token: string, query = "") => api.get(`${API}/conversations${query ? "?" + query : ""}`, token);

describe("POST /conversations: direct", () => {
  test("a direct conversation is created with 201 and both members", async () => {
    const [alice, bob] = await users(2);
    const res = await create(alice!.token, { participant_ids: [bob!.user.id] });
    expect(res.status).toBe(201);
    expectConversationView(res.body, alice!.user.id);
    expect(res.body).toMatchObject({ is_group: false, name: null, created_by: alice!.user.id, last_message: null, unread_count: 0 });
    expect(res.body.participants.map((p: any) => p.id).sort()).toEqual([alice!.user.id, bob!.user.id].sort());
    // Participants are public views: only the caller's own entry carries an email.
    const byId = Object.fromEntries(res.body.participants.map((p: any) => [p.id, p]));
    expect(byId[alice!.user.id].email).toBe(alice!.user.email);
    expect(byId[bob!.user.id]).not.toHaveProperty("email");
  });

  test("asking again returns the same conversation with 200, from either side", async () => {
    const [alice, bob] = await users(2);
    const first = await create(alice!.token, { participant_ids: [bob!.user.id] });
    expect(first.status).toBe(201);
    const again = await create(alice!.token, { participant_ids: [bob!.user.id], is_group: false });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const fromBob = await create(bob!.token, { participant_ids: [alice!.user.id] });
    expect(fromBob.status).toBe(200);
    expect(fromBob.body.id).toBe(first.body.id);
    expectConversationView(fromBob.body, bob!.user.id);
    expect((await list(alice!.token)).body).toHaveLength(1);
  });

  test("both sides asking at once get one conversation", async () => {
    const [alice, bob] = await users(2);
    const [a, b] = await Promise.all([
      create(alice!.token, { participant_ids: [bob!.user.id] }),
      create(bob!.token, { participant_ids: [alice!.user.id] }),
    ]);
    expect(a.body.id).toBe(b.body.id);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
  });

  test("listing yourself among the participants is harmless", async () => {
    const [alice, bob] = await users(2);
    const res = await create(alice!.token, { participant_ids: [alice!.user.id, bob!.user.id, bob!.user.id] });
    expect(res.status).toBe(201);
    expect(res.body.participants).toHaveLength(2);
  });

  test("more than one other participant without is_group is a 422 naming participant_ids", async () => {
    const [alice, bob, carol] = await users(3);
    expectError(await create(alice!.token, { participant_ids: [bob!.user.id, carol!.user.id] }), 422, { field: "participant_ids" });
    expect((await list(alice!.token)).body).toEqual([]);
  });

  test("a direct conversation with nobody or only yourself is a 422", async () => {
    const [alice] = await users(1);
    expectError(await create(alice!.token, { participant_ids: [] }), 422, { field: "participant_ids" });
    expectError(await create(alice!.token, { participant_ids: [alice!.user.id] }), 422, { field: "participant_ids" });
  });

  test("an unknown participant is a 422 naming participant_ids and creates nothing", async () => {
    const [alice] = await users(1);
    expectError(await create(alice!.token, { participant_ids: [randomUuid()] }), 422, { field: "participant_ids" });
    expect((await list(alice!.token)).body).toEqual([]);
  });
});

describe("POST /conversations: groups", () => {
  test("a group is created with 201, its trimmed name and every member", async () => {
    const [alice, bob, carol] = await users(3);
    const res = await create(alice!.token, { participant_ids: [bob!.user.id, carol!.user.id], name: "  Team 🚀  ", is_group: true });
    expect(res.status).toBe(201);
    expectConversationView(res.body, alice!.user.id);
    expect(res.body).toMatchObject({ is_group: true, name: "Team 🚀", created_by: alice!.user.id, last_message: null, unread_count: 0 });
    expect(res.body.participants.map((p: any) => p.id).sort()).toEqual([alice!.user.id, bob!.user.id, carol!.user.id].sort());
    for (const u of [bob!, carol!]) expect((await api.get(`${API}/conversations/${res.body.id}`, u.token)).status).toBe(200);
  });

  test("groups are not unique: the same members can have two groups", async () => {
    const [alice, bob] = await users(2);
    const a = await create(alice!.token, { participant_ids: [bob!.user.id], name: "one", is_group: true });
    const b = await create(alice!.token, { participant_ids: [bob!.user.id], name: "two", is_group: true });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  test("a group needs a name: missing, null or blank is a 422 naming name", async () => {
    const [alice, bob] = await users(2);
    for (const name of [undefined, null, "", "   "]) {
      const body = { participant_ids: [bob!.user.id], is_group: true, ...(name === undefined ? {} : { name }) };
      expectError(await create(alice!.token, body), 422, { field: "name", context: JSON.stringify(name) });
    }
    expect((await list(alice!.token)).body).toEqual([]);
  });

  test("a group with an unknown participant is a 422 and creates nothing", async () => {
    const [alice, bob] = await users(2);
    const res = await create(alice!.token, { participant_ids: [bob!.user.id, randomUuid()], name: "g", is_group: true });
    expectError(res, 422, { field: "participant_ids" });
    expect((await list(alice!.token)).body).toEqual([]);
    expect((await list(bob!.token)).body).toEqual([]);
  });

  test("a name longer than 128 characters is a 422 naming name", async () => {
    const [alice, bob] = await users(2);
    expectError(await create(alice!.token, { participant_ids: [bob!.user.id], name: "n".repeat(129), is_group: true }), 422, {
      field: "name",
    });
  });
});

describe("GET /conversations", () => {
  test("lists only the caller's conversations, most recent activity first", async () => {
    const [alice, bob, carol, dave] = await users(4);
    const first = (await create(alice!.token, { participant_ids: [bob!.user.id] })).body.id;
    const second = (await create(alice!.token, { participant_ids: [carol!.user.id] })).body.id;
    const third = (await create(alice!.token, { participant_ids: [bob!.user.id, carol!.user.id], name: "g", is_group: true })).body.id;
    await create(bob!.token, { participant_ids: [dave!.user.id] }); // not alice's
    const created = (await list(alice!.token)).body;
    expect(created.map((c: any) => c.id)).toEqual([third, second, first]);
    for (const c of created) expectConversationView(c, alice!.user.id);

    expect((await api.send(carol!.token, first, "x")).status).toBe(404); // carol is not in it, nothing moves
    expect((await api.send(bob!.token, first, "bump the oldest")).status).toBe(201);
    expect((await list(alice!.token)).body.map((c: any) => c.id)).toEqual([first, third, second]);
    expect((await api.send(carol!.token, second, "now this one")).status).toBe(201);
    expect((await list(alice!.token)).body.map((c: any) => c.id)).toEqual([second, first, third]);
  });

  test("limit and offset page through the list without overlap", async () => {
    const [alice, ...others] = await users(6);
    for (const o of others) expect((await create(alice!.token, { participant_ids: [o.user.id] })).status).toBe(201);
    const all = (await list(alice!.token)).body.map((c: any) => c.id);
    expect(all).toHaveLength(5);
    const paged = [
      ...(await list(alice!.token, "limit=2")).body,
      ...(await list(alice!.token, "limit=2&offset=2")).body,
      ...(await list(alice!.token, "limit=2&offset=4")).body,
    ].map((c: any) => c.id);
    expect(paged).toEqual(all);
    expect((await list(alice!.token, "offset=5")).body).toEqual([]);
    expect((await list(alice!.token, "limit=100")).body).toHaveLength(5);
    expectError(await list(alice!.token, "limit=101"), 422, { field: "limit" });
    expectError(await list(alice!.token, "limit=0"), 422, { field: "limit" });
    expectError(await list(alice!.token, "offset=-1"), 422, { field: "offset" });
  });

  test("limit defaults to 50", async () => {
    const [alice] = await users(1);
    const ids = (await seedUsers(server, tag(), 52)).map((u) => u.id);
    for (const id of ids) expect((await create(alice!.token, { participant_ids: [id] })).status).toBe(201);
    expect((await list(alice!.token)).body).toHaveLength(50);
    expect((await list(alice!.token, "offset=50")).body).toHaveLength(2);
  });

  test("each entry carries the caller's unread count and last message", async () => {
    const [alice, bob] = await users(2);
    const dm = (await create(alice!.token, { participant_ids: [bob!.user.id] })).body.id;
    await api.send(bob!.token, dm, "one");
    await api.send(bob!.token, dm, "two");
    const [entry] = (await list(alice!.token)).body;
    expect(entry.unread_count).toBe(2);
    expect(entry.last_message).toMatchObject({ content: "two", seq: 2, sender_id: bob!.user.id, is_read: false });
    const [bobs] = (await list(bob!.token)).body;
    expect(bobs.unread_count).toBe(0);
  });
});

describe("GET /conversations/{id}", () => {
  test("returns the conversation with last_message, unread_count and participants", async () => {
    const [alice, bob] = await users(2);
    const dm = (await create(alice!.token, { participant_ids: [bob!.user.id] })).body.id;
    const empty = await api.get(`${API}/conversations/${dm}`, bob!.token);
    expect(empty.status).toBe(200);
    expectConversationView(empty.body, bob!.user.id);
    expect(empty.body.last_message).toBeNull();
    expect(empty.body.unread_count).toBe(0);

    const sent = [];
    for (const text of ["a", "b", "c"]) sent.push((await api.send(alice!.token, dm, text)).body);
    const forBob = (await api.get(`${API}/conversations/${dm}`, bob!.token)).body;
    expect(forBob.unread_count).toBe(3);
    expect(forBob.last_message).toMatchObject({ id: sent[2].id, seq: 3, is_read: false, recipient_id: bob!.user.id });
    const forAlice = (await api.get(`${API}/conversations/${dm}`, alice!.token)).body;
    expect(forAlice.unread_count).toBe(0);
    expect(forAlice.last_message.is_read).toBe(false); // bob has not read it yet

    expect((await api.put(`${API}/messages/${sent[1].id}/read`, undefined, bob!.token)).status).toBe(200);
    expect((await api.get(`${API}/conversations/${dm}`, bob!.token)).body.unread_count).toBe(1);
    expect((await api.put(`${API}/messages/${sent[2].id}/read`, undefined, bob!.token)).status).toBe(200);
    const read = (await api.get(`${API}/conversations/${dm}`, bob!.token)).body;
    expect(read.unread_count).toBe(0);
    expect(read.last_message.is_read).toBe(true);
    expect((await api.get(`${API}/conversations/${dm}`, alice!.token)).body.last_message.is_read).toBe(true);
  });

  test("an unknown id is a 404", async () => {
    const [alice] = await users(1);
    expectError(await api.get(`${API}/conversations/${randomUuid()}`, alice!.token), 404, { code: "not_found" });
  });
});

describe("PUT /conversations/{id}", () => {
  test("any member may rename a group; everyone sees the new name", async () => {
    const [alice, bob] = await users(2);
    const group = (await create(alice!.token, { participant_ids: [bob!.user.id], name: "old", is_group: true })).body;
    const res = await api.put(`${API}/conversations/${group.id}`, { name: " new name " }, bob!.token);
    expect(res.status).toBe(200);
    expectConversationView(res.body, bob!.user.id);
    expect(res.body.name).toBe("new name");
    expect(res.body.created_by).toBe(alice!.user.id);
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(group.updated_at));
    expect((await api.get(`${API}/conversations/${group.id}`, alice!.token)).body.name).toBe("new name");
  });

  test("renaming a group to blank or null is a 422 naming name", async () => {
    const [alice, bob] = await users(2);
    const group = (await create(alice!.token, { participant_ids: [bob!.user.id], name: "keep", is_group: true })).body;
    expectError(await api.put(`${API}/conversations/${group.id}`, { name: "  " }, alice!.token), 422, { field: "name" });
    expectError(await api.put(`${API}/conversations/${group.id}`, { name: null }, alice!.token), 422, { field: "name" });
    expect((await api.get(`${API}/conversations/${group.id}`, alice!.token)).body.name).toBe("keep");
  });

  test("a direct conversation cannot be renamed (422 naming name)", async () => {
    const [alice, bob] = await users(2);
    const dm = (await create(alice!.token, { participant_ids: [bob!.user.id] })).body.id;
    expectError(await api.put(`${API}/conversations/${dm}`, { name: "ours" }, alice!.token), 422, { field: "name" });
    expect((await api.get(`${API}/conversations/${dm}`, alice!.token)).body.name).toBeNull();
  });

  test("unknown fields are a 422 naming the field", async () => {
    const [alice, bob] = await users(2);
    const group = (await create(alice!.token, { participant_ids: [bob!.user.id], name: "g", is_group: true })).body.id;
    expectError(await api.put(`${API}/conversations/${group}`, { name: "x", is_group: false }, alice!.token), 422, { field: "is_group" });
    expectError(await api.put(`${API}/conversations/${group}`, { created_by: bob!.user.id }, alice!.token), 422, { field: "created_by" });
    const after = (await api.get(`${API}/conversations/${group}`, alice!.token)).body;
    expect(after).toMatchObject({ name: "g", is_group: true, created_by: alice!.user.id });
  });

  test("an unknown id is a 404", async () => {
    const [alice] = await users(1);
    expectError(await api.put(`${API}/conversations/${randomUuid()}`, { name: "x" }, alice!.token), 404, { code: "not_found" });
  });
});
