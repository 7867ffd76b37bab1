// The socket's app-side controls against a real server: frames other than the token never go out
// before `ready` (the server wants the token first; they report false instead), and reconnectNow()
// skips a pending backoff, as the web client does on the browser's `online` event.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { recordMessages, restartableServer, signedUp, type RestartableServer } from "./harness";

let server: RestartableServer;
beforeAll(async () => {
  server = await restartableServer();
});
afterAll(() => server.close());

test("typing, markRead and received report false before ready and send once it is there", async () => {
  const alice = await signedUp(server.url, "alice");
  const bob = await signedUp(server.url, "bob");
  const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
  const sent = (await bob.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: "hi" })).data!;
  const bobSocket = bob.chat.socket();
  const typing: string[] = [];
  bobSocket.on("user_typing", (f) => void typing.push(f.user_id));
  const bobGot = recordMessages(bobSocket);

  const socket = alice.chat.socket();
  expect(socket.state).toBe("connecting");
  expect(socket.typing(dm.id)).toBe(false);
  expect(socket.markRead(sent.id)).toBe(false);
  expect(socket.received(dm.id, sent.seq)).toBe(false);
  const got = recordMessages(socket);
  await got.until(() => got.syncedCount() > 0, "alice synced");
  await bobGot.until(() => bobGot.syncedCount() > 0, "bob synced");
  expect(socket.state).toBe("live");

  expect(socket.typing(dm.id)).toBe(true);
  await bobGot.until(() => typing.includes(alice.user.id), "alice typing at bob's");
  expect(socket.markRead(sent.id)).toBe(true);
  const read = new Promise((resolve) => bobSocket.on("message_read", (f) => f.user_id === alice.user.id && resolve(f.last_read_seq)));
  expect(await read).toBe(sent.seq);
  socket.close();
  bobSocket.close();
  expect(socket.typing(dm.id)).toBe(false);
}, 30_000);

test("reconnectNow() connects at once instead of waiting out the backoff", async () => {
  const alice = await signedUp(server.url, "alice");
  // A backoff far longer than this test's waits: only reconnectNow() can bring it back in time.
  const socket = alice.chat.socket({ minDelayMs: 120_000, maxDelayMs: 120_000 });
  let readies = 0;
  socket.on("ready", () => void readies++);
  const got = recordMessages(socket);
  await got.until(() => readies === 1 && got.syncedCount() === 1, "first ready");
  const retry = new Promise<number | null>((resolve) => socket.on("disconnected", (e) => resolve(e.retryInMs)));
  await server.stop();
  expect(await retry).toBeGreaterThanOrEqual(60_000);
  await server.start();
  socket.reconnectNow();
  await got.until(() => readies === 2 && got.syncedCount() === 2, "a second ready");
  expect(socket.state).toBe("live");
  socket.reconnectNow(); // connected: nothing to skip
  expect(socket.state).toBe("live");
  socket.close();
}, 60_000);
