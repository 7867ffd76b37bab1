// The SDK bundle in a real browser (Debian's Chromium): the server's own /client.js (src/web/client.js,
// made by `bun run build:client`) is imported as an ES module by a page of the server's origin, logs
// in, opens the socket, sends and receives. Skipped when Chromium is missing (CI installs it).
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { createChatClient } from "../../client";
import { recordMessages, restartableServer, signedUp } from "./harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
});

test.skipIf(!existsSync(CHROMIUM))("the browser bundle logs in, receives and sends over its socket", async () => {
  const server = await restartableServer();
  try {
    const alice = await signedUp(server.url, "alice");
    const bob = await signedUp(server.url, "bob");
    const dm = (await alice.chat.api.api.v1.conversations.post({ participant_ids: [bob.user.id] })).data!;
    const bobSocket = createChatClient({ baseUrl: server.url, token: await bob.chat.token() }).socket();
    const got = recordMessages(bobSocket);
    await got.until(() => got.syncedCount() > 0, "bob synced");

    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
    // The JSON routes' CSP forbids scripts; the page only borrows the origin (no CORS needed).
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.url}/health`);
    const evaluated = page.evaluate(
      async ({ username, password, conversationId }) => {
        const { createChatClient } = await import(`${location.origin}/client.js`);
        const chat = createChatClient({ baseUrl: location.origin });
        await chat.login(username, password);
        const socket = chat.socket();
        const heard = new Promise<string>((resolve) => socket.on("new_message", ({ message }: any) => message.content === "ping" && resolve(message.content)));
        await new Promise<void>((resolve) => socket.on("synced", () => resolve()));
        const sent = await socket.send({ conversation_id: conversationId, content: "from the browser" });
        const content = await heard;
        socket.close();
        return { seq: sent.seq, content };
      },
      { username: alice.user.username, password: alice.password, conversationId: dm.id },
    );
    // The browser's send reaches Bob; Bob's answer reaches the browser's socket.
    await got.until(() => got.seen.some((m) => m.content === "from the browser"), "the browser's message");
    await bob.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content: "ping" });
    const result = await evaluated;
    expect(errors).toEqual([]);
    expect(result).toEqual({ seq: 1, content: "ping" });
    bobSocket.close();
  } finally {
    await server.close();
  }
}, 90_000);
