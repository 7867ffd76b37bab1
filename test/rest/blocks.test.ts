// Blocking: PUT/DELETE /users/{id}/block and GET /users/me/blocks; someone you blocked cannot send
// in your direct conversation (REST and socket), cannot put you into a group, and you hear none of
// their typing or presence. Silent: they are told nothing but the 403 on what they try.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, randomUuid, type TestUser } from "../support/api";
import { expectError, expectUserView } from "../support/expect";
import { startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, errorFor } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`b${i}`)));
const blockUser = (token: string, id: string) => api.request("PUT", `${API}/users/${id}/block`, { token });
const unblockUser = (token: string, id: string) => api.request("DELETE", `${API}/users/${id}/block`, { token });
const blocks = (token: string, query = "") => api.get(`${API}/users/me/blocks${query}`, token);

describe("block, unblock, list", () => {
  test("blocking is 204 and idempotent; the list shows public views, newest first; unblocking is 204 and idempotent", async () => {
    const [a, b, c] = await users(3);
    expect((await blockUser(a!.token, b!.user.id)).status).toBe(204);
    expect((await blockUser(a!.token, b!.user.id)).status).toBe(204);
    await Bun.sleep(2);
    expect((await blockUser(a!.token, c!.user.id)).status).toBe(204);
    const list = await blocks(a!.token);
    expect(list.status).toBe(200);
    expect(list.body.map((u: any) => u.id)).toEqual([c!.user.id, b!.user.id]);
    for (const u of list.body) expectUserView(u, false);
    expect((await blocks(a!.token, "?limit=1&offset=1")).body.map((u: any) => u.id)).toEqual([b!.user.id]);
    expectError(await blocks(a!.token, "?limit=0"), 422, { field: "limit" });
    expect((await unblockUser(a!.token, b!.user.id)).status).toBe(204);
    expect((await unblockUser(a!.token, b!.user.id)).status).toBe(204);
    expect((await blocks(a!.token)).body.map((u: any) => u.id)).toEqual([c!.user.id]);
    // Blocking is not visible to the blocked user.
    expect((await blocks(c!.token)).body).toEqual([]);
  });

  test("blocking yourself is 422, an unknown user 404, a malformed id 422, no token 401", async () => {
    const [a] = await users(1);
    expectError(await blockUser(a!.token, a!.user.id), 422, { field: "user_id" });
    expectError(await blockUser(a!.token, randomUuid()), 404);
    expectError(await blockUser(a!.token, "nope"), 422, { field: "user_id" });
    expectError(await api.request("PUT", `${API}/users/${a!.user.id}/block`), 401);
    expectError(await api.get(`${API}/users/me/blocks`), 401);
  });
});

describe("what a block stops", () => {
  test("the blocked user cannot send in the direct conversation (403 blocked) until unblocked; the blocker still can", async () => {
    const [a, b] = await users(2);
    const dm = await api.dm(b!.token, a!.user.id);
    await blockUser(a!.token, b!.user.id);
    expectError(await api.send(b!.token, dm.body.id, "let me in"), 403, { code: "blocked" });
    expect((await api.send(a!.token, dm.body.id, "I may")).status).toBe(201);
    await unblockUser(a!.token, b!.user.id);
    expect((await api.send(b!.token, dm.body.id, "thanks")).status).toBe(201);
    const history = await api.get(`${API}/conversations/${dm.body.id}/messages`, a!.token);
    expect(history.body.map((m: any) => m.content)).toEqual(["I may", "thanks"]);
  });

  test("over the socket, the send gets an error frame with code blocked (by conversation_id and by recipient_id)", async () => {
    const [a, b] = await users(2);
    const dm = await api.dm(b!.token, a!.user.id);
    await blockUser(a!.token, b!.user.id);
    const [sa, sb] = [await connect(server.url, a!.token), await connect(server.url, b!.token)];
    const e1 = await errorFor(sb, { type: "message", conversation_id: dm.body.id, content: "hi", client_msg_id: "c1" });
    expect(e1).toMatchObject({ code: "blocked", ref: "c1" });
    const e2 = await errorFor(sb, { type: "message", recipient_id: a!.user.id, content: "hi" });
    expect(e2.code).toBe("blocked");
    await barrier(sa);
    expect(sa.ofType("new_message")).toEqual([]);
    expect((await api.get(`${API}/conversations/${dm.body.id}/messages`, a!.token)).body).toEqual([]);
    closeAll(sa, sb);
  });

  test("in the direct conversation the blocked user cannot edit or react either (403 blocked), and the blocker hears nothing of it", async () => {
    const [a, b] = await users(2);
    const dm = (await api.dm(b!.token, a!.user.id)).body.id;
    const old = (await api.send(b!.token, dm, "an old message")).body;
    const mine = (await api.send(a!.token, dm, "the blocker's message")).body;
    const sa = await connect(server.url, a!.token);
    expect((await api.request("PUT", `${API}/messages/${mine.id}/reactions/👍`, { token: b!.token })).status).toBe(200);
    // On PostgreSQL that frame follows a read after the commit: wait for it before counting.
    await sa.waitType("message_updated");
    const from = sa.frames.length;
    await blockUser(a!.token, b!.user.id);
    expectError(await api.request("PATCH", `${API}/messages/${old.id}`, { token: b!.token, body: { content: `abuse @${a!.user.username}` } }), 403, { code: "blocked" });
    expectError(await api.request("PUT", `${API}/messages/${mine.id}/reactions/🖕`, { token: b!.token }), 403, { code: "blocked" });
    // Taking a reaction back and deleting one's own message stay possible.
    expect((await api.request("DELETE", `${API}/messages/${mine.id}/reactions/👍`, { token: b!.token })).status).toBe(200);
    await barrier(sa);
    expect(sa.frames.slice(from).filter((f) => f.type === "message_updated").map((f) => f.message.reactions)).toEqual([[]]);
    const history = (await api.get(`${API}/conversations/${dm}/messages`, a!.token)).body;
    expect(history.map((m: any) => [m.content, m.edited_at, m.reactions])).toEqual([
      ["an old message", null, []],
      ["the blocker's message", null, []],
    ]);
    expect((await api.get(`${API}/messages/unread/count`, a!.token)).body.mention_count ?? 0).toBe(0);
    // Once unblocked, editing works again.
    await unblockUser(a!.token, b!.user.id);
    expect((await api.request("PATCH", `${API}/messages/${old.id}`, { token: b!.token, body: { content: "fixed" } })).status).toBe(200);
    closeAll(sa);
  });

  test("the blocked user cannot start a direct conversation with the blocker (REST or a socket send by recipient_id)", async () => {
    const [a, b] = await users(2);
    await blockUser(a!.token, b!.user.id);
    expectError(await api.dm(b!.token, a!.user.id), 403, { code: "blocked" });
    const sb = await connect(server.url, b!.token);
    expect((await errorFor(sb, { type: "message", recipient_id: a!.user.id, content: "hi", client_msg_id: "x1" })).code).toBe("blocked");
    expect((await api.get(`${API}/conversations`, a!.token)).body).toEqual([]);
    // The blocker may still start one with the blocked user.
    expect((await api.dm(a!.token, b!.user.id)).status).toBe(201);
    closeAll(sb);
  });

  test("blocks in a group do not stop sending there", async () => {
    const [a, b, c] = await users(3);
    const g = await api.group(a!.token, "g", [b!.user.id, c!.user.id]);
    await blockUser(a!.token, b!.user.id);
    expect((await api.send(b!.token, g.body.id, "group talk")).status).toBe(201);
  });

  test("the blocked user cannot add the blocker to a group, nor create a group with them (403 blocked)", async () => {
    const [a, b, c] = await users(3);
    await blockUser(a!.token, b!.user.id);
    expectError(await api.group(b!.token, "no", [a!.user.id, c!.user.id]), 403, { code: "blocked" });
    const g = await api.group(b!.token, "yes", [c!.user.id]);
    expect(g.status).toBe(201);
    const rev = (await api.get(`${API}/conversations/${g.body.id}`, b!.token)).body.rev;
    expectError(await api.post(`${API}/conversations/${g.body.id}/members`, { user_ids: [a!.user.id] }, b!.token), 403, { code: "blocked" });
    const after = (await api.get(`${API}/conversations/${g.body.id}`, b!.token)).body;
    expect(after.member_count).toBe(2);
    expect(after.rev).toBe(rev);
    // Someone else (an admin) may still add the blocker, and the blocker may put the blocked user in a group.
    expect((await api.request("PATCH", `${API}/conversations/${g.body.id}/members/${c!.user.id}`, { token: b!.token, body: { role: "admin" } })).status).toBe(200);
    expect((await api.post(`${API}/conversations/${g.body.id}/members`, { user_ids: [a!.user.id] }, c!.token)).status).toBe(200);
    const mine = await api.group(a!.token, "mine", [b!.user.id]);
    expect(mine.status).toBe(201);
  });

  test("the blocker hears none of the blocked user's typing; others still do", async () => {
    const [a, b, c] = await users(3);
    const g = await api.group(a!.token, "typing", [b!.user.id, c!.user.id]);
    await blockUser(a!.token, b!.user.id);
    const [sa, sb, sc] = [await connect(server.url, a!.token), await connect(server.url, b!.token), await connect(server.url, c!.token)];
    sb.send({ type: "typing", conversation_id: g.body.id });
    expect((await sc.waitType("user_typing")).user_id).toBe(b!.user.id);
    await barrier(sa, sb);
    expect(sa.ofType("user_typing")).toEqual([]);
    // The other way round is not blocked.
    sa.send({ type: "typing", conversation_id: g.body.id });
    expect((await sb.waitType("user_typing")).user_id).toBe(a!.user.id);
    closeAll(sa, sb, sc);
  });

  test("the blocker gets no presence frames of the blocked user; other contacts do", async () => {
    const [a, b, c] = await users(3);
    await api.group(a!.token, "presence", [b!.user.id, c!.user.id]);
    await blockUser(a!.token, b!.user.id);
    const [sa, sc] = [await connect(server.url, a!.token), await connect(server.url, c!.token)];
    const sb = await connect(server.url, b!.token);
    await sc.waitFor((f) => f.type === "presence" && f.user_id === b!.user.id && f.is_online === true);
    await barrier(sa);
    expect(sa.ofType("presence").filter((f) => f.user_id === b!.user.id)).toEqual([]);
    closeAll(sa, sb, sc);
  });
});
