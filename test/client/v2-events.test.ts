// The SDK's v2 events against the real server (the scripted one in revisions.test.ts covers the
// bookkeeping): edits, reactions, deletes and a reply's new parent reply_count reach other members
// as message_updated once per state; received() shows up as message_delivered for the sender; a
// member added while connected gets conversation_updated and the conversation's messages; and a
// socket resumed with the positions and revs of a closed one gets what changed meanwhile once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ChatSocket, Message, SocketEvents } from "../../client";
import { recordMessages, restartableServer, signedUp, type RestartableServer } from "./harness";

let server: RestartableServer;
const sockets: ChatSocket[] = [];
beforeAll(async () => {
  server = await restartableServer();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
});

async function open(user: Awaited<ReturnType<typeof signedUp>>, options: Parameters<typeof user.chat.socket>[0] = {}) {
  const socket = user.chat.socket(options);
  sockets.push(socket);
  const messages = recordMessages(socket);
  const updates: Message[] = [];
  const events: { [K in keyof SocketEvents]?: SocketEvents[K][] } = {};
  for (const type of ["conversation_updated", "message_delivered"] as const) {
    socket.on(type, (e) => void (events[type] ??= [] as never[]).push(e as never));
  }
  socket.on("message_updated", ({ message }) => void updates.push(message));
  await messages.until(() => messages.syncedCount() > 0, "synced");
  return { socket, messages, updates, events };
}

/** Each state of a message at most once: (id, rev) pairs are unique. */
const statesOnce = (updates: Message[]) => expect(new Set(updates.map((m) => `${m.id}@${m.rev}`)).size).toBe(updates.length);

test("edits, reactions, deletes and a reply's parent arrive as message_updated once each; received() reaches the sender; an added member is told", async () => {
  const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => signedUp(server.url, n)));
  const group = (await alice!.chat.api.api.v1.conversations.post({ participant_ids: [bob!.user.id], name: "Plans", is_group: true })).data!;
  const a = await open(alice!);
  const b = await open(bob!);
  const c = await open(carol!);

  const first = await b.socket.send({ conversation_id: group.id, content: "lunch?" });
  await a.messages.until(() => a.messages.of(group.id).length === 1, "bob's message at alice's");
  // Alice's device reports it delivered: Bob hears it.
  expect(a.socket.received(group.id, first.seq)).toBe(true);
  await b.messages.until(() => (b.events.message_delivered ?? []).some((e) => e.user_id === alice!.user.id && e.last_delivered_seq === first.seq), "message_delivered");

  // A reply: Bob gets it, and then its parent with reply_count 1 in the same rev.
  const reply = await a.socket.send({ conversation_id: group.id, content: "sure", reply_to_id: first.id });
  expect(reply.reply_to_id).toBe(first.id);
  await b.messages.until(() => b.updates.some((m) => m.id === first.id && m.reply_count === 1), "the parent's reply_count");
  expect(b.updates.find((m) => m.id === first.id)!.rev).toBe(reply.rev);

  // Bob edits, Alice reacts, Bob deletes his message: each state reaches the other side once.
  const api = (user: typeof alice) => user!.chat.api.api.v1.messages({ message_id: first.id });
  expect((await api(bob).patch({ content: "lunch at noon?" })).status).toBe(200);
  expect((await api(alice).reactions({ emoji: "👍" }).put()).status).toBe(200);
  await a.messages.until(() => a.updates.some((m) => m.id === first.id && m.reactions?.[0]?.me === true), "alice's reaction at alice's");
  expect((await api(bob).delete()).status).toBe(204);
  await a.messages.until(() => a.updates.some((m) => m.id === first.id && m.deleted_at !== null), "the tombstone at alice's");
  await b.messages.until(() => b.updates.some((m) => m.id === first.id && m.deleted_at !== null), "the tombstone at bob's");
  const seenByAlice = a.updates.filter((m) => m.id === first.id);
  expect(seenByAlice.map((m) => m.content)).toEqual(["lunch?", "lunch at noon?", "lunch at noon?", ""]);
  expect(seenByAlice.map((m) => m.reply_count)).toEqual([1, 1, 1, 1]);
  statesOnce(a.updates);
  statesOnce(b.updates);

  // Carol's socket was open before she was added: she is told, and follows the conversation.
  const added = await alice!.chat.api.api.v1.conversations({ conversation_id: group.id }).members.post({ user_ids: [carol!.user.id] });
  expect(added.status).toBe(200);
  await c.messages.until(() => (c.events.conversation_updated ?? []).some((e) => e.conversation.id === group.id), "conversation_updated at carol's");
  const welcome = await b.socket.send({ conversation_id: group.id, content: "welcome Carol" });
  await c.messages.until(() => c.messages.of(group.id).some((m) => m.id === welcome.id), "bob's welcome at carol's");
  // Her socket started from the present (no `since`): the history before she joined is REST's job.
  expect(c.messages.of(group.id).map((m) => m.content)).toEqual(["welcome Carol"]);
  expect(a.messages.of(group.id).map((m) => m.content)).toEqual(["lunch?", "sure", "welcome Carol"]);
}, 60_000);

test("a socket resumed from a closed one's positions and revs gets the messages and changes it missed, once each", async () => {
  const [alice, bob] = await Promise.all(["alice", "bob"].map((n) => signedUp(server.url, n)));
  const dm = (await bob!.chat.api.api.v1.conversations.post({ participant_ids: [alice!.user.id] })).data!;
  const first = await open(alice!);
  const one = (await bob!.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: "one" })).data!;
  const two = (await bob!.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: "two" })).data!;
  await first.messages.until(() => first.messages.of(dm.id).length === 2, "both messages");
  const since = first.socket.positions();
  const revs = first.socket.revisions();
  expect(revs[dm.id]).toBe(two.rev);
  first.socket.close();

  // While Alice is away: an edit and a reaction on one, two deleted, a third message.
  const api = (id: string) => bob!.chat.api.api.v1.messages({ message_id: id });
  await api(one.id).patch({ content: "one (edited)" });
  await api(one.id).reactions({ emoji: "🎉" }).put();
  await api(two.id).delete();
  const three = (await bob!.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: "three" })).data!;

  const resumed = await open(alice!, { since, revs });
  await resumed.messages.until(() => resumed.messages.of(dm.id).some((m) => m.id === three.id), "the third message");
  expect(resumed.messages.of(dm.id).map((m) => m.content)).toEqual(["three"]);
  const byId = new Map(resumed.updates.map((m) => [m.id, m]));
  expect(byId.get(one.id)).toMatchObject({ content: "one (edited)", reactions: [{ emoji: "🎉", count: 1, me: false }] });
  expect(byId.get(two.id)).toMatchObject({ content: "", deleted_at: expect.any(String) });
  expect(resumed.updates.filter((m) => m.id === one.id)).toHaveLength(1);
  statesOnce(resumed.updates);
  expect(resumed.socket.revisions()[dm.id]).toBe(three.rev);
}, 60_000);
