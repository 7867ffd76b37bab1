// The built-in web client across a server restart mid-conversation (Debian's Chromium through
// playwright-core): the page's socket is the SDK's, so it reconnects by itself, resends what was
// typed while the server was down, catches up on what others sent meanwhile, and shows every
// message exactly once, in the server's order. The server is the real one, stopped and started
// again on the same port and data directory (test/client/harness.ts). And a long absence: the
// catch-up of many messages costs one read mark and one receipt, not a frame per message.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { restartableServer, signedUp, type RestartableServer } from "../client/harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const WAIT = { timeout: 15_000 };

let server: RestartableServer | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  server = await restartableServer();
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const texts = (page: Page) => page.locator("#messages li.message .text").allTextContents();

/** Alice and Bob with a direct conversation; Bob posts over REST. */
async function pair() {
  const alice = await signedUp(server!.url, "alice");
  const bob = await signedUp(server!.url, "bob");
  const dm = (await bob.chat.api.api.v1.conversations.post({ participant_ids: [alice.user.id] })).data!;
  const post = (content: string) => bob.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.post({ content });
  return { alice, bob, dm, post };
}

/**
 * A page logged in with the user's token, uncaught errors collected (while the server is down the
 * browser logs failed socket connections as console errors: those do not count). `prepare` runs
 * before the first load (socket routes and listeners).
 */
async function loggedIn(user: Awaited<ReturnType<typeof signedUp>>, prepare: (page: Page) => Promise<unknown> = async () => {}) {
  const page = await (await browser!.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await prepare(page);
  await page.goto(server!.url + "/");
  await page.evaluate((token) => localStorage.setItem("chat.token", token), (await user.chat.token())!);
  await page.reload();
  await page.locator('#conn[data-status="online"]').waitFor(WAIT);
  await page.locator("#conversation-list li").first().click();
  return { page, errors };
}

test.skipIf(!hasChromium)(
  "a server restart mid-conversation: the page reconnects, sends what was typed meanwhile, and shows every message once",
  async () => {
    const { alice, bob, dm, post } = await pair();
    await post("before 1");
    await post("before 2");
    const tokenFrames: string[] = [];
    const { page, errors } = await loggedIn(alice, async (page) =>
      page.on("websocket", (ws) => ws.on("framesent", (f) => String(f.payload).startsWith('{"token"') && tokenFrames.push(String(f.payload)))),
    );
    await page.locator("#messages li.theirs .text", { hasText: "before 2" }).waitFor(WAIT);
    await page.fill("#message-input", "alice live");
    await page.press("#message-input", "Enter");
    await page.locator("#messages li.mine:not(.pending) .text", { hasText: "alice live" }).waitFor(WAIT);
    const connectionsBefore = tokenFrames.length;

    // The server goes away with the conversation open; Alice keeps typing.
    await server!.stop();
    await page.locator('#conn[data-status="reconnecting"]').waitFor(WAIT);
    await page.fill("#message-input", "typed while down");
    await page.press("#message-input", "Enter");
    await page.locator("#messages li.mine.pending .text", { hasText: "typed while down" }).waitFor(WAIT);

    // It comes back on the same port and data; Bob writes at once (before or after Alice is back).
    await server!.start();
    await post("after 1");
    await post("after 2");
    await page.locator('#conn[data-status="online"]').waitFor({ timeout: 30_000 });
    await page.locator("#messages li.theirs .text", { hasText: "after 2" }).waitFor(WAIT);
    await page.locator("#messages li.mine.pending").waitFor({ state: "detached", ...WAIT });

    // Exactly the server's history, in its order, each message once (the resend was stored once).
    const history = (await bob.chat.api.api.v1.conversations({ conversation_id: dm.id }).messages.get({ query: { limit: 50 } })).data!;
    const stored = [...history].sort((x, y) => x.seq - y.seq).map((m) => m.content);
    expect(stored.filter((c) => c === "typed while down")).toHaveLength(1);
    expect(stored).toHaveLength(6);
    expect(await texts(page)).toEqual(stored);
    const seqs = await page.locator("#messages li.message").evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.seq));
    expect(seqs).toEqual(["1", "2", "3", "4", "5", "6"]);
    // The history above came through a new, authenticated socket (not a page reload).
    expect(tokenFrames.length).toBeGreaterThan(connectionsBefore);

    // And it keeps working both ways.
    await page.fill("#message-input", "all good");
    await page.press("#message-input", "Enter");
    await page.locator("#messages li.mine:not(.pending) .text", { hasText: "all good" }).waitFor(WAIT);
    expect(await texts(page)).toEqual([...stored, "all good"]);
    expect(errors).toEqual([]);
  },
  90_000,
);

test.skipIf(!hasChromium)(
  "back from a long absence: the catch-up shows every missed message once and answers with one read mark and one receipt",
  async () => {
    const { alice, bob, dm, post } = await pair();
    await post("hello");
    // The page's sockets pass through here: the test cuts them and refuses new ones while "offline".
    const network = { down: false, live: new Set<WebSocketRoute>(), sent: [] as Record<string, unknown>[] };
    const { page, errors } = await loggedIn(alice, (page) =>
      page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
        if (network.down) return ws.close({ code: 4000, reason: "network down (test)" });
        const upstream = ws.connectToServer();
        ws.onMessage((frame) => {
          network.sent.push(JSON.parse(String(frame)));
          upstream.send(frame);
        });
        network.live.add(ws);
      }),
    );
    await page.locator("#messages li.theirs .text", { hasText: "hello" }).waitFor(WAIT);

    network.down = true;
    for (const ws of network.live) await ws.close({ code: 4000, reason: "network down (test)" });
    network.live.clear();
    await page.locator('#conn[data-status="reconnecting"]').waitFor(WAIT);
    const MISSED = 120;
    for (let i = 1; i <= MISSED; i++) await post(`missed ${i}`);
    const sentBefore = network.sent.length;

    network.down = false;
    await page.evaluate(() => window.dispatchEvent(new Event("online"))); // skip the backoff
    await page.locator("#messages li.theirs .text", { hasText: `missed ${MISSED}` }).waitFor({ timeout: 30_000 });
    const shown = await texts(page);
    expect(shown).toEqual(["hello", ...Array.from({ length: MISSED }, (_, i) => `missed ${i + 1}`)]);
    // The server learns it was delivered and read, up to the last one.
    const lastSeq = MISSED + 1;
    for (const deadline = Date.now() + 15_000; ; await Bun.sleep(50)) {
      const receipts = (await bob.chat.api.api.v1.conversations({ conversation_id: dm.id }).receipts.get()).data!;
      const mine = receipts.find((r) => r.user_id === alice.user.id);
      if (mine && mine.last_read_seq === lastSeq && mine.last_delivered_seq === lastSeq) break;
      if (Date.now() > deadline) throw new Error(`alice's receipts never reached ${lastSeq}: ${JSON.stringify(mine)}`);
    }
    const after = network.sent.slice(sentBefore);
    expect(after.filter((f) => f.type === "mark_read")).toHaveLength(1);
    expect(after.filter((f) => f.type === "received")).toHaveLength(1);
    expect(after.filter((f) => "token" in f)).toHaveLength(1); // one connection: never closed for flooding
    expect(errors).toEqual([]);
  },
  90_000,
);
