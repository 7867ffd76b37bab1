// The SDK against a real server: typed REST through Eden, and a socket that delivers every message
// once and in order through reconnects, catch-up rounds and a server restart, and whose sends are
// stored exactly once even when resent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ChatSendError, createChatClient } from "../../client";
import { recordMessages, restartableServer, signedUp, type RestartableServer } from "./harness";

let server: RestartableServer;
beforeAll(async () => {
  server = await restartableServer();
});
afterAll(() => server.close());

const seqs = (messages: { seq: number }[]) => messages.map((m) => m.seq);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("api (Eden treaty)", () => {
  test("typed calls reach the routes; errors come back as the contract's {detail, code}", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const me = await alice.chat.api.api.v1.auth.me.get();
    expect(me.data?.id).toBe(alice.user.id);
    // Timestamps stay strings (Eden would make Dates of them), as the types say.
    expect(typeof me.data?.created_at).toBe("string");
    const dm = await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] });
    expect(dm.status).toBe(201);
    const sent = await alice.chat.api.api.v1.conversations({ conversation_id: dm.data!.id }).messages.post({ content: "2024-01-01T00:00:00Z" });
    expect(sent.data?.content).toBe("2024-01-01T00:00:00Z");
    const missing = await alice.chat.api.api.v1.conversations({ conversation_id: Bun.randomUUIDv7() }).get();
    expect(missing.status).toBe(404);
    expect(missing.error?.value).toMatchObject({ code: "not_found" });
    const anonymous = await createChatClient({ baseUrl: server.url }).api.api.v1.auth.me.get();
    expect(anonymous.status).toBe(401);
  });
});

describe("socket", () => {
  test("live messages arrive once each, in seq order; send() resolves with the stored message", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    const socket = bob.chat.socket();
    const got = recordMessages(socket);
    await got.until(() => got.syncedCount() > 0, "synced");
    for (let i = 1; i <= 5; i++) await alice.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: `m${i}` });
    const mine = await socket.send({ conversation_id: dm.id, content: "from bob" });
    expect(mine.seq).toBe(6);
    expect(mine.sender_id).toBe(bob.user.id);
    await got.until(() => got.of(dm.id).length === 6, "6 messages");
    expect(seqs(got.of(dm.id))).toEqual(oneTo(6));
    expect(socket.positions()[dm.id]).toBe(6);
    socket.close();
  });

  test("a send repeated with the same client_msg_id is stored once; a refused send rejects with the server's code", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    const socket = alice.chat.socket();
    const [a, b] = await Promise.all([
      socket.send({ conversation_id: dm.id, content: "once", client_msg_id: "same-id" }),
      socket.send({ conversation_id: dm.id, content: "once", client_msg_id: "same-id" }),
    ]);
    const again = await socket.send({ conversation_id: dm.id, content: "once", client_msg_id: "same-id" });
    expect(a.id).toBe(b.id);
    expect(again.id).toBe(a.id);
    const history = await alice.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.get({ query: {} });
    expect(history.data).toHaveLength(1);
    const refused = await socket.send({ conversation_id: dm.id, content: "   " }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ChatSendError);
    expect((refused as ChatSendError).code).toBe("validation_error");
    socket.close();
    const late = await socket.send({ conversation_id: dm.id, content: "late" }).catch((error: unknown) => error);
    expect(late).toMatchObject({ code: "socket_closed" });
  });

  test("with `since`, history after those positions is caught up over several sync rounds (has_more), in order", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    // 60 conversations with news: more than one sync round may read (50), so the loop must go on.
    const groups: string[] = [];
    for (let i = 0; i < 60; i++) {
      const group = await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id], name: `g${i}`, is_group: true });
      groups.push(group.data!.id);
      for (let j = 0; j < 2; j++) await alice.chat.api.api.v1.conversations({ conversation_id: group.data!.id }).messages.post({ content: `g${i} m${j}` });
    }
    // Bob already holds the first message of the first group.
    const socket = bob.chat.socket({ since: { [groups[0]!]: 1 } });
    const got = recordMessages(socket);
    await got.until(() => got.syncedCount() > 0, "synced");
    expect(seqs(got.of(groups[0]!))).toEqual([2]);
    for (const id of groups.slice(1)) expect(seqs(got.of(id))).toEqual([1, 2]);
    expect(got.seen).toHaveLength(119);
    socket.close();
  });

  test("an ack lost with the connection: the send is resent after reconnecting and stored once", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    let acksDropped = 0;
    // A WebSocket whose first connection dies the moment the server's ack arrives: stored, not acknowledged.
    class AckLosingSocket extends WebSocket {
      override set onmessage(handler: ((event: MessageEvent) => void) | null) {
        super.onmessage = (event: MessageEvent) => {
          if (acksDropped === 0 && String(event.data).includes('"message_ack"')) {
            acksDropped++;
            return this.close(4000, "lost");
          }
          handler?.(event);
        };
      }
    }
    const socket = createChatClient({ baseUrl: server.url, token: () => bob.chat.token(), WebSocket: AckLosingSocket }).socket({ minDelayMs: 50 });
    const got = recordMessages(socket);
    await got.until(() => got.syncedCount() > 0, "synced");
    const stored = await socket.send({ conversation_id: dm.id, content: "exactly once" });
    expect(acksDropped).toBe(1);
    await got.until(() => got.of(dm.id).length === 1, "the message");
    const history = await alice.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.get({ query: {} });
    expect(history.data!.map((m) => m.id)).toEqual([stored.id]);
    socket.close();
  });

  test("without `since` the socket starts from the present; a conversation created later is followed from its start", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const old = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    await alice.chat.api.api.v1.conversations({ conversation_id: old.id }).messages.post({ content: "before" });
    const socket = bob.chat.socket();
    const got = recordMessages(socket);
    await got.until(() => got.syncedCount() > 0, "synced");
    const group = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id], name: "later", is_group: true })).data!;
    await alice.chat.api.api.v1.conversations({ conversation_id: group.id }).messages.post({ content: "first" });
    await alice.chat.api.api.v1.conversations({ conversation_id: old.id }).messages.post({ content: "after" });
    await got.until(() => got.seen.length === 2, "2 messages");
    expect(got.seen.map((m) => m.content).sort()).toEqual(["after", "first"]);
    socket.close();
  });

  test("a refused token ends the socket without retrying", async () => {
    const socket = createChatClient({ baseUrl: server.url, token: "not-a-token" }).socket();
    const disconnected = await new Promise<{ code: number; retryInMs: number | null }>((resolve) => socket.on("disconnected", resolve));
    expect(disconnected).toMatchObject({ code: 4401, retryInMs: null });
    expect(socket.state).toBe("closed");

    // A session ended by the server (a password change) closes with 4401: no retry either.
    const alice = await signedUp(server.url, "alice");
    const live = alice.chat.socket();
    const got = recordMessages(live);
    await got.until(() => got.syncedCount() > 0, "synced");
    const ended = new Promise<{ code: number; retryInMs: number | null }>((resolve) => live.on("disconnected", resolve));
    await alice.chat.api.api.v1.users.me.put({ password: "a brand new password", current_password: alice.password });
    expect(await ended).toMatchObject({ code: 4401, retryInMs: null });
    expect(live.state).toBe("closed");
  });
});

describe("server restart mid-conversation", () => {
  test("no message is missed or repeated, and sends made while the server was down are stored once", async () => {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    const post = (content: string) => alice.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content });
    const socket = bob.chat.socket({ minDelayMs: 300, maxDelayMs: 1_000 });
    const got = recordMessages(socket);
    let readies = 0;
    socket.on("ready", () => void readies++);
    await got.until(() => got.syncedCount() > 0, "synced");

    for (let i = 0; i < 10; i++) await post(`before ${i}`);
    const dropped = new Promise((resolve) => socket.on("disconnected", resolve));
    await server.stop();
    await dropped;
    // Bob sends while the server is down: the send waits for the socket to be back, then goes out.
    const pendingSend = socket.send({ conversation_id: dm.id, content: "sent while down" });
    await server.start();
    // Messages committed before Bob's socket is back: only the catch-up can bring them.
    for (let i = 0; i < 10; i++) await post(`after ${i}`);
    const stored = await pendingSend;
    await got.until(() => got.of(dm.id).length === 21, "21 messages");
    await got.until(() => readies >= 2, "a second ready");
    for (let i = 0; i < 5; i++) await post(`live ${i}`);
    await got.until(() => got.of(dm.id).length === 26, "26 messages");

    expect(seqs(got.of(dm.id))).toEqual(oneTo(26));
    expect(got.of(dm.id).filter((m) => m.id === stored.id)).toHaveLength(1);
    const history = await alice.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.get({ query: { limit: 100 } });
    expect(history.data!.filter((m) => m.content === "sent while down")).toHaveLength(1);
    expect(history.data!.map((m) => m.id)).toEqual(got.of(dm.id).map((m) => m.id));
    socket.close();
  }, 60_000);
});
