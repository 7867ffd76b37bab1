// Members and roles over REST: adding, removing, leaving, role changes and owner succession, who may
// do what (the role matrix), revisions (exactly +1 per change, none for no-ops), access lost at once,
// and each member's own mute/pin settings.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, randomUuid, type TestUser } from "../support/api";
import { expectConversationView, expectError } from "../support/expect";
import { rawRequest } from "../support/raw-http";
import { onPostgres, seedUsers, startTestServer, type TestServer } from "../support/server";
import { sqlNumber } from "../support/sql";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`m${i}`)));
const add = (token: string, id: string, userIds: string[]) => api.post(`${API}/conversations/${id}/members`, { user_ids: userIds }, token);
const remove = (token: string, id: string, userId: string) => api.request("DELETE", `${API}/conversations/${id}/members/${userId}`, { token });
const patchRole = (token: string, id: string, userId: string, role: unknown) =>
  api.request("PATCH", `${API}/conversations/${id}/members/${userId}`, { token, body: { role } });
const settings = (token: string, id: string, body: unknown) => api.put(`${API}/conversations/${id}/settings`, body, token);
const get = (token: string, id: string) => api.get(`${API}/conversations/${id}`, token);
const roles = (c: any) => Object.fromEntries(c.members.map((m: any) => [m.user_id, m.role]));

/** A group owned by the first user, with the others as members; the second is made admin when asked. */
async function groupOf(people: TestUser[], withAdmin = false) {
  const [owner, ...rest] = people;
  const g = await api.group(owner!.token, "g", rest.map((u) => u.user.id));
  expect(g.status).toBe(201);
  if (withAdmin) expect((await patchRole(owner!.token, g.body.id, rest[0]!.user.id, "admin")).status).toBe(200);
  return g.body.id as string;
}

describe("the Conversation view", () => {
  test("has members with roles and joined_at, my_role, muted, muted_until and pinned", async () => {
    const [a, b] = await users(2);
    const g = await api.group(a!.token, "view", [b!.user.id]);
    expectConversationView(g.body, a!.user.id);
    expect(g.body.members.map((m: any) => m.user_id)).toEqual(g.body.participants.map((p: any) => p.id));
    expect(roles(g.body)).toEqual({ [a!.user.id]: "owner", [b!.user.id]: "member" });
    expect(g.body).toMatchObject({ my_role: "owner", muted: false, muted_until: null, pinned: false });
    expect((await get(b!.token, g.body.id)).body.my_role).toBe("member");
    const dm = await api.dm(a!.token, b!.user.id);
    expectConversationView(dm.body, a!.user.id);
    expect(dm.body.members.map((m: any) => m.role)).toEqual(["member", "member"]);
  });

  test("the list caps members like participants (10 and you); GET one lists all", async () => {
    const [a, late] = await users(2);
    const seeded = await seedUsers(server, `mb${Date.now().toString(36)}_`, 15);
    const g = await api.group(a!.token, "big", seeded.map((u) => u.id));
    expect((await add(a!.token, g.body.id, [late!.user.id])).status).toBe(200);
    // The latest to join is past the first 10: listed as the caller anyway.
    const listed = (await api.get(`${API}/conversations`, late!.token)).body.find((c: any) => c.id === g.body.id);
    expect(listed.members.map((m: any) => m.user_id)).toEqual(listed.participants.map((p: any) => p.id));
    expect(listed.members).toHaveLength(11);
    expect(listed.members.at(-1)).toMatchObject({ user_id: late!.user.id, role: "member" });
    expect(listed.my_role).toBe("member");
    expect((await get(late!.token, g.body.id)).body.members).toHaveLength(17);
  });
});

describe("POST /conversations/{id}/members", () => {
  test("the owner adds members: 200 Conversation, rev +1, they see the history with nothing unread", async () => {
    const [a, b, c, d] = await users(4);
    const id = await groupOf([a!, b!]);
    await api.send(a!.token, id, "before c joined");
    const before = (await get(a!.token, id)).body.rev;
    const res = await add(a!.token, id, [c!.user.id, d!.user.id]);
    expect(res.status).toBe(200);
    expectConversationView(res.body, a!.user.id);
    expect(res.body.rev).toBe(before + 1);
    expect(roles(res.body)[c!.user.id]).toBe("member");
    expect(res.body.member_count).toBe(4);
    const seen = await get(c!.token, id);
    expect(seen.status).toBe(200);
    expect(seen.body.unread_count).toBe(0);
    const history = await api.get(`${API}/conversations/${id}/messages`, c!.token);
    expect(history.body.map((m: any) => m.content)).toEqual(["before c joined"]);
    const count = await api.get(`${API}/messages/unread/count`, c!.token);
    expect(count.body.unread_count).toBe(0);
    // Messages after joining count as usual.
    await api.send(a!.token, id, "after");
    expect((await get(c!.token, id)).body.unread_count).toBe(1);
  });

  test("adding existing members (or yourself) is no change: 200, same rev", async () => {
    const [a, b] = await users(2);
    const id = await groupOf([a!, b!]);
    const rev = (await get(a!.token, id)).body.rev;
    const res = await add(a!.token, id, [b!.user.id, a!.user.id, b!.user.id]);
    expect(res.status).toBe(200);
    expect(res.body.rev).toBe(rev);
    expect(res.body.member_count).toBe(2);
  });

  test("an admin may add; a member may not (403 forbidden); a non-member gets 404", async () => {
    const [a, b, c, d, e] = await users(5);
    const id = await groupOf([a!, b!, c!], true);
    expect((await add(b!.token, id, [d!.user.id])).status).toBe(200);
    expectError(await add(c!.token, id, [e!.user.id]), 403, { code: "forbidden" });
    expectError(await add(c!.token, id, [randomUuid()]), 403, { code: "forbidden" });
    expectError(await add(e!.token, id, [e!.user.id]), 404);
    expect((await get(a!.token, id)).body.member_count).toBe(4);
  });

  test("unknown users are a 422 naming user_ids and add nobody; an empty or malformed list is a 422", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!]);
    const rev = (await get(a!.token, id)).body.rev;
    expectError(await add(a!.token, id, [c!.user.id, randomUuid()]), 422, { field: "user_ids" });
    expectError(await add(a!.token, id, []), 422, { field: "user_ids" });
    expectError(await add(a!.token, id, ["nope"]), 422, { field: "user_ids" });
    expectError(await api.post(`${API}/conversations/${id}/members`, { user_ids: [c!.user.id], role: "admin" }, a!.token), 422);
    const after = (await get(a!.token, id)).body;
    expect(after.member_count).toBe(2);
    expect(after.rev).toBe(rev);
  });

  test("a direct conversation cannot get members: 422", async () => {
    const [a, b, c] = await users(3);
    const dm = await api.dm(a!.token, b!.user.id);
    expectError(await add(a!.token, dm.body.id, [c!.user.id]), 422, { field: "user_ids" });
  });

  test("a group grows to at most 1000 members: 422 past it", async () => {
    const [a] = await users(1);
    const seeded = await seedUsers(server, `cap${Date.now().toString(36)}_`, 1000);
    const g = await api.group(a!.token, "cap", seeded.slice(0, 998).map((u) => u.id));
    expect(g.body.member_count).toBe(999);
    expectError(await add(a!.token, g.body.id, seeded.slice(998).map((u) => u.id)), 422, { field: "user_ids" });
    const ok = await add(a!.token, g.body.id, [seeded[998]!.id]);
    expect(ok.status).toBe(200);
    expect(ok.body.member_count).toBe(1000);
    expectError(await add(a!.token, g.body.id, [seeded[999]!.id]), 422, { field: "user_ids" });
  });
});

describe("DELETE /conversations/{id}/members/{user_id}", () => {
  test("a member leaves: 204, rev +1, then 404 on the conversation, its messages and its changes", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!, c!]);
    const sent = await api.send(a!.token, id, "hi");
    const rev = (await get(a!.token, id)).body.rev;
    const res = await remove(c!.token, id, c!.user.id);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expectError(await get(c!.token, id), 404);
    expectError(await api.get(`${API}/conversations/${id}/messages`, c!.token), 404);
    expectError(await api.get(`${API}/conversations/${id}/changes?since_rev=0`, c!.token), 404);
    expectError(await api.send(c!.token, id, "still here?"), 404);
    expectError(await api.put(`${API}/messages/${sent.body.id}/read`, {}, c!.token), 404);
    expect((await api.get(`${API}/conversations`, c!.token)).body).toEqual([]);
    const after = (await get(a!.token, id)).body;
    expect(after.rev).toBe(rev + 1);
    expect(after.member_count).toBe(2);
    // The others keep the history.
    expect((await api.get(`${API}/conversations/${id}/messages`, b!.token)).body).toHaveLength(1);
  });

  test("a removed member's unread messages leave their total", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!, c!]);
    await api.send(a!.token, id, "one");
    expect((await api.get(`${API}/messages/unread/count`, c!.token)).body.unread_count).toBe(1);
    expect((await remove(a!.token, id, c!.user.id)).status).toBe(204);
    expect((await api.get(`${API}/messages/unread/count`, c!.token)).body.unread_count).toBe(0);
  });

  test("role matrix: owner removes admin and member, admin removes member only, member removes nobody", async () => {
    const [o, ad, m1, m2, ad2] = await users(5);
    const id = await groupOf([o!, ad!, m1!, m2!, ad2!], true);
    expect((await patchRole(o!.token, id, ad2!.user.id, "admin")).status).toBe(200);
    expectError(await remove(m1!.token, id, m2!.user.id), 403, { code: "forbidden" });
    expectError(await remove(m1!.token, id, ad!.user.id), 403, { code: "forbidden" });
    expectError(await remove(m1!.token, id, o!.user.id), 403, { code: "forbidden" });
    expectError(await remove(ad!.token, id, ad2!.user.id), 403, { code: "forbidden" });
    expectError(await remove(ad!.token, id, o!.user.id), 403, { code: "forbidden" });
    expect((await remove(ad!.token, id, m2!.user.id)).status).toBe(204);
    expect((await remove(o!.token, id, ad2!.user.id)).status).toBe(204);
    expect((await remove(o!.token, id, m1!.user.id)).status).toBe(204);
    expect((await get(o!.token, id)).body.members.map((m: any) => m.user_id).sort()).toEqual([o!.user.id, ad!.user.id].sort());
  });

  test("a DELETE as browsers send it (no body, no Content-Length) works", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!, c!]);
    const res = await rawRequest(Number(new URL(server.url).port), {
      method: "DELETE",
      path: `${API}/conversations/${id}/members/${c!.user.id}`,
      host: new URL(server.url).host,
      headers: { authorization: `Bearer ${a!.token}` },
    });
    expect(res.status).toBe(204);
    expect((await get(a!.token, id)).body.member_count).toBe(2);
  });

  test("removing someone not in the group is 404; a non-member gets 404; a direct conversation cannot be left (422)", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!]);
    expectError(await remove(a!.token, id, c!.user.id), 404);
    expectError(await remove(a!.token, id, randomUuid()), 404);
    expectError(await remove(c!.token, id, c!.user.id), 404);
    expectError(await remove(c!.token, id, b!.user.id), 404);
    const dm = await api.dm(a!.token, b!.user.id);
    expectError(await remove(a!.token, dm.body.id, a!.user.id), 422);
    expect((await get(a!.token, dm.body.id)).status).toBe(200);
  });

  test("when the owner leaves, the longest-standing admin becomes owner, in the same rev", async () => {
    const [o, m1, ad] = await users(3);
    const id = await groupOf([o!, m1!, ad!]);
    expect((await patchRole(o!.token, id, ad!.user.id, "admin")).status).toBe(200);
    const rev = (await get(o!.token, id)).body.rev;
    expect((await remove(o!.token, id, o!.user.id)).status).toBe(204);
    const after = (await get(m1!.token, id)).body;
    expect(after.rev).toBe(rev + 1);
    expect(roles(after)).toEqual({ [m1!.user.id]: "member", [ad!.user.id]: "owner" });
  });

  test("with no admin, the longest-standing member becomes owner", async () => {
    const [o, m1, m2, late] = await users(4);
    const id = await groupOf([o!, m1!, m2!]);
    expect((await add(o!.token, id, [late!.user.id])).status).toBe(200);
    expect((await remove(o!.token, id, o!.user.id)).status).toBe(204);
    const after = (await get(m2!.token, id)).body;
    expect(after.members.filter((m: any) => m.role === "owner")).toHaveLength(1);
    // m1 and m2 joined at creation, before `late`. Members who joined together: SQLite keeps the
    // order they were listed in (m1 first), PostgreSQL orders them by user id (README, PostgreSQL).
    const first = onPostgres ? [m1!.user.id, m2!.user.id].sort()[0]! : m1!.user.id;
    expect(roles(after)[first]).toBe("owner");
    expect(roles(after)[late!.user.id]).toBe("member");
  });

  test("a group whose last member leaves is deleted with its messages", async () => {
    const [a, b] = await users(2);
    const id = await groupOf([a!, b!]);
    await api.send(a!.token, id, "soon gone");
    expect((await remove(b!.token, id, b!.user.id)).status).toBe(204);
    expect((await remove(a!.token, id, a!.user.id)).status).toBe(204);
    const q = (sql: string) => sqlNumber(server, sql, id);
    expect(await q("SELECT count(*) AS n FROM conversations WHERE id = ?")).toBe(0);
    expect(await q("SELECT count(*) AS n FROM messages WHERE conversation_id = ?")).toBe(0);
    expect(await q("SELECT count(*) AS n FROM members WHERE conversation_id = ?")).toBe(0);
    expectError(await get(a!.token, id), 404);
  });
});

describe("PATCH /conversations/{id}/members/{user_id}", () => {
  test("only the owner changes roles: admin and member get 403", async () => {
    const [o, ad, m] = await users(3);
    const id = await groupOf([o!, ad!, m!], true);
    expectError(await patchRole(ad!.token, id, m!.user.id, "admin"), 403, { code: "forbidden" });
    expectError(await patchRole(m!.token, id, m!.user.id, "admin"), 403, { code: "forbidden" });
    const res = await patchRole(o!.token, id, m!.user.id, "admin");
    expect(res.status).toBe(200);
    expectConversationView(res.body, o!.user.id);
    expect(roles(res.body)[m!.user.id]).toBe("admin");
    expect((await patchRole(o!.token, id, ad!.user.id, "member")).status).toBe(200);
    expect(roles((await get(o!.token, id)).body)[ad!.user.id]).toBe("member");
  });

  test("making someone owner transfers ownership: the old owner becomes admin, one rev", async () => {
    const [o, m] = await users(2);
    const id = await groupOf([o!, m!]);
    const rev = (await get(o!.token, id)).body.rev;
    const res = await patchRole(o!.token, id, m!.user.id, "owner");
    expect(res.status).toBe(200);
    expect(res.body.rev).toBe(rev + 1);
    expect(res.body.my_role).toBe("admin");
    expect(roles(res.body)).toEqual({ [o!.user.id]: "admin", [m!.user.id]: "owner" });
    // The old owner is an admin now: no more role changes.
    expectError(await patchRole(o!.token, id, m!.user.id, "member"), 403, { code: "forbidden" });
  });

  test("the same role is no change (same rev); the owner cannot demote themselves; bad roles are 422", async () => {
    const [o, m, x] = await users(3);
    const id = await groupOf([o!, m!]);
    const rev = (await get(o!.token, id)).body.rev;
    const same = await patchRole(o!.token, id, m!.user.id, "member");
    expect(same.status).toBe(200);
    expect(same.body.rev).toBe(rev);
    expect((await patchRole(o!.token, id, o!.user.id, "owner")).body.rev).toBe(rev);
    expectError(await patchRole(o!.token, id, o!.user.id, "admin"), 422, { field: "role" });
    expectError(await patchRole(o!.token, id, m!.user.id, "king"), 422, { field: "role" });
    expectError(await patchRole(o!.token, id, m!.user.id, null), 422, { field: "role" });
    expectError(await patchRole(o!.token, id, x!.user.id, "admin"), 404);
    expectError(await patchRole(x!.token, id, m!.user.id, "admin"), 404);
    const dm = await api.dm(o!.token, m!.user.id);
    expectError(await patchRole(o!.token, dm.body.id, m!.user.id, "admin"), 422);
    expect((await get(o!.token, id)).body.rev).toBe(rev);
  });
});

describe("revisions and /changes", () => {
  test("each membership change is exactly +1 rev and /changes carries the Conversation after it", async () => {
    const [o, m, n] = await users(3);
    const id = await groupOf([o!, m!]);
    let rev = (await get(o!.token, id)).body.rev;
    const steps: [string, () => Promise<any>][] = [
      ["add", () => add(o!.token, id, [n!.user.id])],
      ["role", () => patchRole(o!.token, id, n!.user.id, "admin")],
      ["remove", () => remove(o!.token, id, n!.user.id)],
      ["leave", () => remove(m!.token, id, m!.user.id)],
    ];
    for (const [name, step] of steps) {
      expect((await step()).status, name).toBeLessThan(300);
      const changes = await api.get(`${API}/conversations/${id}/changes?since_rev=${rev}`, o!.token);
      expect(changes.status, name).toBe(200);
      expect(changes.body.rev, name).toBe(rev + 1);
      expect(changes.body.conversation, name).not.toBeNull();
      expectConversationView(changes.body.conversation, o!.user.id);
      expect(changes.body.messages, name).toEqual([]);
      rev++;
    }
    expect((await get(o!.token, id)).body.members.map((x: any) => x.user_id)).toEqual([o!.user.id]);
    // Nothing after the latest rev: no conversation.
    expect((await api.get(`${API}/conversations/${id}/changes?since_rev=${rev}`, o!.token)).body.conversation).toBeNull();
  });
});

describe("PUT /conversations/{id}/settings", () => {
  test("mute, mute until, unmute and pin are per caller and take no rev", async () => {
    const [a, b] = await users(2);
    const id = await groupOf([a!, b!]);
    const rev = (await get(a!.token, id)).body.rev;
    const muted = await settings(a!.token, id, { muted: true });
    expect(muted.status).toBe(200);
    expectConversationView(muted.body, a!.user.id);
    expect(muted.body).toMatchObject({ muted: true, muted_until: null, pinned: false, rev });
    expect((await get(b!.token, id)).body.muted).toBe(false);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    expect((await settings(a!.token, id, { muted_until: until })).body).toMatchObject({ muted: true, muted_until: until });
    expect((await settings(a!.token, id, { muted: false })).body).toMatchObject({ muted: false, muted_until: null });
    // A mute whose end has passed is no mute.
    expect((await settings(a!.token, id, { muted_until: new Date(Date.now() - 1000).toISOString() })).body).toMatchObject({ muted: false, muted_until: null });
    expect((await settings(a!.token, id, { pinned: true })).body.pinned).toBe(true);
    expect((await get(a!.token, id)).body.rev).toBe(rev);
  });

  test("bad settings are 422 naming the field; a non-member gets 404", async () => {
    const [a, b, c] = await users(3);
    const id = await groupOf([a!, b!]);
    expectError(await settings(a!.token, id, { muted: "yes" }), 422, { field: "muted" });
    expectError(await settings(a!.token, id, { muted_until: "tomorrow" }), 422, { field: "muted_until" });
    expectError(await settings(a!.token, id, { pinned: 1 }), 422, { field: "pinned" });
    expectError(await settings(a!.token, id, { colour: "red" }), 422);
    expectError(await settings(c!.token, id, { muted: true }), 404);
  });

  test("pinned conversations list first, then by activity", async () => {
    const [a, b, c, d] = await users(4);
    const first = await api.dm(a!.token, b!.user.id);
    const second = await api.dm(a!.token, c!.user.id);
    const third = await api.dm(a!.token, d!.user.id);
    await api.send(b!.token, first.body.id, "oldest");
    await api.send(c!.token, second.body.id, "middle");
    await api.send(d!.token, third.body.id, "newest");
    const order = async () => (await api.get(`${API}/conversations`, a!.token)).body.map((x: any) => x.id);
    expect(await order()).toEqual([third.body.id, second.body.id, first.body.id]);
    await settings(a!.token, first.body.id, { pinned: true });
    expect(await order()).toEqual([first.body.id, third.body.id, second.body.id]);
    // Only for the one who pinned.
    expect((await api.get(`${API}/conversations`, b!.token)).body[0].pinned).toBe(false);
  });
});
