// Membership changes on open sockets: a removed member's sockets leave the conversation in the same
// step (conversation_removed, then nothing more of it; typing, sync and sends get 404 or nothing), a
// new member's already open sockets get conversation_updated and its events without reconnecting,
// and everyone who stays hears conversation_updated with the change's rev.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { API, type Api, client, type TestUser } from "../support/api";
import { expectConversationView } from "../support/expect";
import { seedUsers, startTestServer, type TestServer } from "../support/server";
import { barrier, closeAll, connect, devices, errorFor, newMessages } from "../support/socket";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const users = (n: number): Promise<TestUser[]> => Promise.all(Array.from({ length: n }, (_, i) => api.newUser(`w${i}`)));
const remove = (token: string, id: string, userId: string) => api.request("DELETE", `${API}/conversations/${id}/members/${userId}`, { token });

describe("a removed member", () => {
  test("every open socket gets conversation_removed and nothing of the conversation afterwards", async () => {
    const [a, b, c] = await users(3);
    const g = await api.group(a!.token, "g", [b!.user.id, c!.user.id]);
    const id = g.body.id;
    const [c1, c2] = await devices(server, c!, 2);
    const sa = await connect(server.url, a!.token);
    expect((await remove(a!.token, id, c!.user.id)).status).toBe(204);
    const rev = (await api.get(`${API}/conversations/${id}`, a!.token)).body.rev;
    for (const s of [c1!, c2!]) {
      expect(await s.waitType("conversation_removed")).toMatchObject({ conversation_id: id, rev });
    }
    // The owner who stays hears the change with its rev and the new member list.
    const updated = await sa.waitType("conversation_updated");
    expect(updated.rev).toBe(rev);
    expectConversationView(updated.conversation, a!.user.id);
    expect(updated.conversation.members.map((m: any) => m.user_id)).not.toContain(c!.user.id);
    const seen = [c1!.frames.length, c2!.frames.length];
    // What happens in the conversation from now on never reaches c's sockets.
    await api.send(a!.token, id, "after c left");
    sa.send({ type: "typing", conversation_id: id });
    await sa.waitType("new_message");
    await barrier(c1!, c2!);
    for (const [i, s] of [c1!, c2!].entries()) {
      const later = s.frames.slice(seen[i]);
      expect(later.filter((f) => f.conversation_id === id || f.message?.conversation_id === id)).toEqual([]);
      expect(newMessages(s, id)).toEqual([]);
      expect(s.ofType("user_typing")).toEqual([]);
    }
    // And the socket itself may no longer act in it: typing and sends are 404, sync ignores it.
    expect((await errorFor(c1!, { type: "typing", conversation_id: id })).code).toBe("not_found");
    expect((await errorFor(c1!, { type: "message", conversation_id: id, content: "hello?" })).code).toBe("not_found");
    const from = c1!.frames.length;
    c1!.send({ type: "sync", since: { [id]: 0 }, revs: { [id]: 0 } });
    await c1!.waitFor((f) => f.type === "sync_done", 5000, from);
    expect(c1!.frames.slice(from).map((f) => f.type)).toEqual(["sync_done"]);
    closeAll(c1!, c2!, sa);
  });

  test("leaving yourself: your own sockets get conversation_removed; the last one out deletes the group", async () => {
    const [a, b] = await users(2);
    const g = await api.group(a!.token, "bye", [b!.user.id]);
    const [sa, sb] = [await connect(server.url, a!.token), await connect(server.url, b!.token)];
    expect((await remove(b!.token, g.body.id, b!.user.id)).status).toBe(204);
    expect((await sb.waitType("conversation_removed")).conversation_id).toBe(g.body.id);
    expect((await sa.waitType("conversation_updated")).conversation.my_role).toBe("owner");
    expect((await remove(a!.token, g.body.id, a!.user.id)).status).toBe(204);
    expect((await sa.waitType("conversation_removed")).conversation_id).toBe(g.body.id);
    closeAll(sa, sb);
  });
});

describe("a new member", () => {
  test("already open sockets get conversation_updated, then the conversation's events, and can type, sync and send", async () => {
    const [a, b, c] = await users(3);
    const g = await api.group(a!.token, "join", [b!.user.id]);
    const id = g.body.id;
    await api.send(a!.token, id, "before c");
    const [c1, c2] = await devices(server, c!, 2);
    const sb = await connect(server.url, b!.token);
    // Not yet a member: typing there is a 404.
    expect((await errorFor(c1!, { type: "typing", conversation_id: id })).code).toBe("not_found");
    const added = await api.post(`${API}/conversations/${id}/members`, { user_ids: [c!.user.id] }, a!.token);
    expect(added.status).toBe(200);
    for (const s of [c1!, c2!]) {
      const f = await s.waitType("conversation_updated");
      expect(f.rev).toBe(added.body.rev);
      expectConversationView(f.conversation, c!.user.id);
      expect(f.conversation).toMatchObject({ id, my_role: "member", unread_count: 0 });
    }
    expect((await sb.waitType("conversation_updated")).rev).toBe(added.body.rev);
    const sent = await api.send(a!.token, id, "welcome c");
    for (const s of [c1!, c2!]) expect((await s.waitType("new_message")).message.id).toBe(sent.body.id);
    c1!.send({ type: "typing", conversation_id: id });
    expect((await sb.waitType("user_typing")).user_id).toBe(c!.user.id);
    c1!.send({ type: "message", conversation_id: id, content: "thanks", client_msg_id: "t1" });
    expect((await c1!.waitType("message_ack")).message.content).toBe("thanks");
    await c2!.waitFor((f) => f.type === "new_message" && f.message.content === "thanks");
    const from = c2!.frames.length;
    c2!.send({ type: "sync", since: { [id]: 0 } });
    await c2!.waitFor((f) => f.type === "sync_done", 5000, from);
    expect(c2!.frames.slice(from).filter((f) => f.type === "new_message").map((f) => f.message.content)).toEqual(["before c", "welcome c", "thanks"]);
    closeAll(c1!, c2!, sb);
  });
});

describe("a new conversation", () => {
  test("members' open sockets are shown a new group and a new DM at once (conversation_updated, rev 0), before any message", async () => {
    const [a, b, c] = await users(3);
    const [a1, a2] = await devices(server, a!, 2);
    const sb = await connect(server.url, b!.token);
    const sc = await connect(server.url, c!.token);
    const g = await api.group(a!.token, "fresh", [b!.user.id]);
    expect(g.status).toBe(201);
    for (const [s, me] of [[a1!, a!], [a2!, a!], [sb, b!]] as const) {
      const f = await s.waitType("conversation_updated");
      expect(f.rev).toBe(0);
      expectConversationView(f.conversation, me.user.id);
      expect(f.conversation).toMatchObject({ id: g.body.id, name: "fresh", rev: 0, member_count: 2, last_message: null });
    }
    // A DM opened by a socket send (recipient_id): the other side learns of it before the message.
    a1!.send({ type: "message", recipient_id: c!.user.id, content: "hello c", client_msg_id: "dm1" });
    const dmId = (await a1!.waitType("message_ack")).message.conversation_id;
    await sc.waitType("new_message");
    const kinds = sc.frames.filter((f) => f.type === "conversation_updated" || f.type === "new_message").map((f) => `${f.type} ${f.rev}`);
    expect(kinds).toEqual(["conversation_updated 0", "new_message 1"]);
    expect(sc.ofType("conversation_updated")[0]!.conversation).toMatchObject({ id: dmId, is_group: false });
    // Asking again for an existing DM (200) creates nothing and shows nothing.
    const before = sb.frames.length;
    expect((await api.dm(b!.token, a!.user.id)).status).toBe(201);
    expect((await api.dm(b!.token, a!.user.id)).status).toBe(200);
    await sb.settle();
    expect(sb.frames.slice(before).filter((f) => f.type === "conversation_updated")).toHaveLength(1);
    closeAll(a1!, a2!, sb, sc);
  });
});

describe("frames in a big group", () => {
  test("conversation_updated carries the view as the list shows it: the first 10, the reader, their own unread count and role", async () => {
    const [a, b, c] = await users(3);
    const seeded = await seedUsers(server, `wbig${Date.now().toString(36)}_`, 15);
    const g = await api.group(a!.token, "big", seeded.map((u) => u.id));
    const id = g.body.id;
    await api.send(a!.token, id, "before b");
    expect((await api.post(`${API}/conversations/${id}/members`, { user_ids: [b!.user.id] }, a!.token)).status).toBe(200);
    await api.send(a!.token, id, "for b");
    const [sa, sb] = [await connect(server.url, a!.token), await connect(server.url, b!.token)];
    const added = await api.post(`${API}/conversations/${id}/members`, { user_ids: [c!.user.id] }, a!.token);
    const fb = await sb.waitType("conversation_updated");
    expect(fb.rev).toBe(added.body.rev);
    expectConversationView(fb.conversation, b!.user.id);
    expect(fb.conversation).toMatchObject({ member_count: 18, my_role: "member", unread_count: 1 });
    expect(fb.conversation.participants).toHaveLength(11);
    expect(fb.conversation.participants.at(-1)).toMatchObject({ id: b!.user.id, email: b!.user.email });
    expect(fb.conversation.members.at(-1)).toMatchObject({ user_id: b!.user.id, role: "member" });
    expect(fb.conversation.last_message.content).toBe("for b");
    const fa = await sa.waitType("conversation_updated");
    expectConversationView(fa.conversation, a!.user.id);
    expect(fa.conversation).toMatchObject({ member_count: 18, my_role: "owner", unread_count: 0 });
    expect(fa.conversation.participants).toHaveLength(10);
    expect(fa.conversation.participants.filter((p: any) => p.email !== undefined).map((p: any) => p.id)).toEqual([a!.user.id]);
    // The same view GET /conversations lists.
    const listed = (await api.get(`${API}/conversations`, b!.token)).body.find((x: any) => x.id === id);
    expect(fb.conversation).toEqual(listed);
    closeAll(sa, sb);
  });
});

describe("roles and settings", () => {
  test("a role change reaches every member with its rev", async () => {
    const [a, b, c] = await users(3);
    const g = await api.group(a!.token, "roles", [b!.user.id, c!.user.id]);
    const [sb, sc] = [await connect(server.url, b!.token), await connect(server.url, c!.token)];
    const res = await api.request("PATCH", `${API}/conversations/${g.body.id}/members/${b!.user.id}`, { token: a!.token, body: { role: "admin" } });
    for (const s of [sb, sc]) expect((await s.waitType("conversation_updated")).rev).toBe(res.body.rev);
    expect((sb.ofType("conversation_updated")[0]!).conversation.my_role).toBe("admin");
    expect((sc.ofType("conversation_updated")[0]!).conversation.my_role).toBe("member");
    closeAll(sb, sc);
  });

  test("settings reach only the caller's own devices, with the unchanged rev", async () => {
    const [a, b] = await users(2);
    const g = await api.group(a!.token, "quiet", [b!.user.id]);
    const [a1, a2] = await devices(server, a!, 2);
    const sb = await connect(server.url, b!.token);
    const res = await api.put(`${API}/conversations/${g.body.id}/settings`, { muted: true, pinned: true }, a!.token);
    expect(res.status).toBe(200);
    for (const s of [a1!, a2!]) {
      const f = await s.waitType("conversation_updated");
      expect(f.rev).toBe(g.body.rev);
      expect(f.conversation).toMatchObject({ muted: true, pinned: true });
    }
    await barrier(sb);
    expect(sb.ofType("conversation_updated")).toEqual([]);
    closeAll(a1!, a2!, sb);
  });
});
