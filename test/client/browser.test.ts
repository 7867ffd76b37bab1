// dist/client.js in a real browser (Debian's Chromium): the bundle `bun run build:client` makes is
// imported as an ES module by a page of the server's origin, logs in, opens the socket, sends and
// receives. Skipped when Chromium is missing (CI installs it).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { createChatClient } from "../../client";
import { recordMessages, restartableServer, signedUp } from "./harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = resolve(import.meta.dir, "../..");
const outDir = mkdtempSync(join(tmpdir(), "chat-client-bundle-"));
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  rmSync(outDir, { recursive: true, force: true });
});

test.skipIf(!existsSync(CHROMIUM))("the browser bundle logs in, receives and sends over its socket", async () => {
  // The same command as the package script, into a scratch folder.
  const build = Bun.spawnSync([process.execPath, "build", "client/index.ts", "--outfile", join(outDir, "client.js"), "--target", "browser"], { cwd: ROOT });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  const bundle = await Bun.file(join(outDir, "client.js")).text();

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
      async ({ bundle, username, password, conversationId }) => {
        const url = URL.createObjectURL(new Blob([bundle], { type: "text/javascript" }));
        const { createChatClient } = await import(url);
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
      { bundle, username: alice.user.username, password: alice.password, conversationId: dm.id },
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
