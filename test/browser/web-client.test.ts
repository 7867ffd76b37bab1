// The built-in web client in a real browser (Debian's Chromium through playwright-core), served by
// the compiled binary: two people in two browser contexts sign up, start a conversation and chat,
// seeing each other's messages, typing, unread badges and read marks; then one of them loses the
// network, misses messages, and catches up after reconnecting. Screenshots land in test-artifacts/;
// UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/web-client.png for the README.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { installInEmptyDir, ROOT, type RunningBinary, startBinary } from "../support/binary";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`test/browser: skipping the web client browser test, ${CHROMIUM} is missing (apt-get install -y chromium; CI installs it)`);
}

const ARTIFACTS = join(ROOT, "test-artifacts");
const BROWSER_TIMEOUT = 120_000;
const WAIT = { timeout: 15_000 };

let install: Awaited<ReturnType<typeof installInEmptyDir>> | undefined;
let server: RunningBinary | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  install = await installInEmptyDir("chat-web-");
  server = await startBinary(install.bin, { cwd: install.dir, args: ["--host", "127.0.0.1"] });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (server) expect(await server.stop()).toBe(0);
  install?.cleanup();
});

interface Person {
  context: BrowserContext;
  page: Page;
  username: string;
  /** Problems the page reported: uncaught errors and console errors (CSP violations show up there). */
  errors: string[];
  /** The page's sockets pass through here, so a test can cut them and refuse new ones. */
  network: { down: boolean; live: Set<WebSocketRoute>; sent: string[] };
}

async function person(name: string): Promise<Person> {
  const context = await browser!.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  const network = { down: false, live: new Set<WebSocketRoute>(), sent: [] as string[] };
  await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
    if (network.down) return ws.close({ code: 4000, reason: "network down (test)" });
    const upstream = ws.connectToServer();
    ws.onMessage((frame) => {
      network.sent.push(String(frame));
      upstream.send(frame);
    });
    network.live.add(ws);
  });
  return { context, page, username: `${name}_${Date.now().toString(36)}`, errors, network };
}

async function signUp(p: Person, fullName: string) {
  await p.page.goto(server!.url + "/");
  await p.page.click("#show-signup");
  const form = p.page.locator("#signup-form");
  await form.locator('input[name="username"]').fill(p.username);
  await form.locator('input[name="full_name"]').fill(fullName);
  await form.locator('input[name="email"]').fill(`${p.username}@example.com`);
  await form.locator('input[name="password"]').fill("correct horse battery");
  await form.locator('button[type="submit"]').click();
  await p.page.locator("#me-name", { hasText: p.username }).waitFor(WAIT);
  await p.page.locator('#conn[data-status="online"]').waitFor(WAIT);
}

const shot = async (p: Person, name: string) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `web-client-${name}.png`);
  await p.page.screenshot({ path });
  return path;
};

const messageTexts = (p: Person) => p.page.locator("#messages li.message .text").allTextContents();

test.skipIf(!hasChromium)(
  "two people chat through the built-in client: messages, typing, unread badges, read marks, and catch-up after a drop",
  async () => {
    const alice = await person("alice");
    const bob = await person("bob");
    await signUp(alice, "Alice Liddell");
    await signUp(bob, "Bob Builder");

    // Alice starts a direct conversation with Bob through the user search.
    await alice.page.click("#new-chat-btn");
    await alice.page.fill("#user-search", bob.username.slice(0, 6));
    await alice.page.locator("#search-results li", { hasText: bob.username }).click();
    await alice.page.click("#create-chat");
    await alice.page.locator("#chat-title", { hasText: "Bob Builder" }).waitFor(WAIT);

    // Typing shows up on Bob's side, and the new conversation appears in his list.
    await alice.page.locator("#message-input").pressSequentially("Hello Bob", { delay: 30 });
    await bob.page.locator("#conversation-list li", { hasText: "Alice Liddell" }).waitFor(WAIT);
    await alice.page.keyboard.press("Enter");

    // Bob has not opened it yet: an unread badge, and Alice's message is only "Sent".
    const bobEntry = bob.page.locator("#conversation-list li", { hasText: "Alice Liddell" });
    await bobEntry.locator(".badge", { hasText: "1" }).waitFor(WAIT);
    // (Bob's client reports the message delivered as soon as it arrives: "Delivered" may follow quickly.)
    await alice.page.locator("#messages li.mine .status", { hasText: /^(Sent|Delivered)$/ }).waitFor(WAIT);
    expect(await bob.page.title()).toBe("(1) Chat");

    // Bob opens it: he sees the message, the badge goes, and Alice sees "Read".
    await bobEntry.click();
    await bob.page.locator("#messages li.theirs .text", { hasText: "Hello Bob" }).waitFor(WAIT);
    await bobEntry.locator(".badge").waitFor({ state: "detached", ...WAIT });
    await alice.page.locator("#messages li.mine .status.read", { hasText: "Read" }).waitFor(WAIT);

    // Bob types: Alice sees the indicator; his reply arrives and is marked read since she is looking.
    await bob.page.locator("#message-input").pressSequentially("Hi Al", { delay: 40 });
    await alice.page.locator("#typing", { hasText: "Bob Builder is typing" }).waitFor(WAIT);
    await shot(alice, "typing");
    await bob.page.locator("#message-input").pressSequentially("ice!");
    await bob.page.click("#send");
    await alice.page.locator("#messages li.theirs .text", { hasText: "Hi Alice!" }).waitFor(WAIT);
    await alice.page.locator("#typing", { hasText: /^$/ }).waitFor(WAIT);
    await bob.page.locator("#messages li.mine .status.read").waitFor(WAIT);
    expect(await messageTexts(alice)).toEqual(["Hello Bob", "Hi Alice!"]);
    expect(await messageTexts(bob)).toEqual(["Hello Bob", "Hi Alice!"]);

    // Alice's network drops: her socket is cut and reconnect attempts fail until it comes back.
    alice.network.down = true;
    for (const ws of alice.network.live) await ws.close({ code: 4000, reason: "network down (test)" });
    alice.network.live.clear();
    await alice.page.locator('#conn[data-status="reconnecting"]').waitFor(WAIT);
    const sentBeforeDrop = alice.network.sent.length;

    // While she is away, Bob sends two messages.
    for (const text of ["Are you there?", "Call me when you are back"]) {
      await bob.page.fill("#message-input", text);
      await bob.page.press("#message-input", "Enter");
    }
    await bob.page.locator("#messages li.mine .text", { hasText: "Call me when you are back" }).waitFor(WAIT);
    await bob.page.waitForFunction(() => !document.querySelector("#messages li.mine.pending"), null, WAIT);
    expect(await messageTexts(alice)).toEqual(["Hello Bob", "Hi Alice!"]);

    // The network returns: Alice reconnects by herself, syncs, and has exactly the server's history.
    alice.network.down = false;
    await alice.page.locator('#conn[data-status="online"]').waitFor({ timeout: 30_000 });
    await alice.page.locator("#messages li.theirs .text", { hasText: "Call me when you are back" }).waitFor(WAIT);
    expect(await messageTexts(alice)).toEqual(["Hello Bob", "Hi Alice!", "Are you there?", "Call me when you are back"]);
    expect(alice.network.sent.slice(sentBeforeDrop).some((f) => JSON.parse(f).type === "sync")).toBe(true);
    await bob.page.locator("#messages li.mine .status.read", { hasText: "Read" }).nth(2).waitFor(WAIT);

    // And the conversation keeps working both ways after the reconnect.
    await alice.page.fill("#message-input", "Back now, ça va ?");
    await alice.page.press("#message-input", "Enter");
    await bob.page.locator("#messages li.theirs .text", { hasText: "Back now, ça va ?" }).waitFor(WAIT);

    // A group: Alice names it and picks Bob; Bob sees it with its unread badge, also after
    // logging out and back in through the login form (the count comes from the server).
    await alice.page.click("#new-chat-btn");
    await alice.page.fill("#user-search", bob.username);
    await alice.page.locator("#search-results li", { hasText: bob.username }).click();
    await alice.page.fill("#group-name", "Weekend plans");
    await alice.page.click("#create-chat");
    await alice.page.locator("#chat-title", { hasText: "Weekend plans" }).waitFor(WAIT);
    await alice.page.fill("#message-input", "Group hello");
    await alice.page.press("#message-input", "Enter");
    const bobGroup = bob.page.locator("#conversation-list li", { hasText: "Weekend plans" });
    await bobGroup.locator(".preview", { hasText: "Alice Liddell: Group hello" }).waitFor(WAIT);
    await bobGroup.locator(".badge", { hasText: "1" }).waitFor(WAIT);
    await bob.page.click("#logout");
    await bob.page.locator("#login-form").waitFor(WAIT);
    await bob.page.fill('#login-form input[name="username"]', bob.username);
    await bob.page.fill('#login-form input[name="password"]', "correct horse battery");
    await bob.page.click('#login-form button[type="submit"]');
    await bobGroup.locator(".badge", { hasText: "1" }).waitFor(WAIT);
    expect(await bob.page.locator("#conversation-list li .name").allTextContents()).toEqual(["Weekend plans", "Alice Liddell"]);
    await bobGroup.click();
    await bob.page.locator("#messages li.theirs .who", { hasText: "Alice Liddell" }).waitFor(WAIT);
    await alice.page.locator("#messages li.mine .status.read", { hasText: "Read" }).waitFor(WAIT);
    await alice.page.locator("#conversation-list li", { hasText: "Bob Builder" }).click();
    await alice.page.locator("#messages li.mine .text", { hasText: "Back now" }).waitFor(WAIT);

    const alicePath = await shot(alice, "alice");
    await shot(bob, "bob");
    // The README's picture is committed: refresh it only when asked, so test runs leave the tree clean.
    const docsShot = join(ROOT, "docs", "web-client.png");
    if (!existsSync(docsShot) || process.env.UPDATE_DOCS_SCREENSHOT === "1") {
      mkdirSync(join(ROOT, "docs"), { recursive: true });
      copyFileSync(alicePath, docsShot);
    }

    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  },
  BROWSER_TIMEOUT,
);

test.skipIf(!hasChromium)(
  "message life in the built-in client: reply, react, edit and delete reach the other browser, and an edit made while offline arrives after reconnecting",
  async () => {
    const alice = await person("alice");
    const bob = await person("bob");
    await signUp(alice, "Alice Life");
    await signUp(bob, "Bob Life");
    await alice.page.click("#new-chat-btn");
    await alice.page.fill("#user-search", bob.username);
    await alice.page.locator("#search-results li", { hasText: bob.username }).click();
    await alice.page.click("#create-chat");
    await alice.page.locator("#chat-title", { hasText: "Bob Life" }).waitFor(WAIT);
    await alice.page.fill("#message-input", `Lunch, @${bob.username}?`);
    await alice.page.press("#message-input", "Enter");
    await bob.page.locator("#conversation-list li", { hasText: "Alice Life" }).click();
    const bobFirst = bob.page.locator("#messages li.theirs", { hasText: "Lunch" });
    await bobFirst.waitFor(WAIT);
    // The mention of Bob is highlighted on his side; Alice's message shows delivered or read.
    await bobFirst.locator(".mention.me", { hasText: `@${bob.username}` }).waitFor(WAIT);
    await alice.page.locator("#messages li.mine .status", { hasText: /^(Delivered|Read)$/ }).waitFor(WAIT);

    // Bob replies (quoting Alice's message) and reacts.
    await bobFirst.hover();
    await bobFirst.locator(".actions button", { hasText: "Reply" }).click();
    await bob.page.locator("#reply-bar", { hasText: "Replying to Alice Life" }).waitFor(WAIT);
    await bob.page.fill("#message-input", "Sure, noon");
    await bob.page.press("#message-input", "Enter");
    const aliceReply = alice.page.locator("#messages li.theirs", { hasText: "Sure, noon" });
    await aliceReply.locator(".quote", { hasText: "Lunch" }).waitFor(WAIT);
    await alice.page.locator("#messages li.mine .replies", { hasText: "1 reply" }).waitFor(WAIT);
    await bobFirst.hover();
    await bobFirst.locator(".actions button", { hasText: "👍" }).click();
    await alice.page.locator("#messages li.mine .reaction", { hasText: "👍 1" }).waitFor(WAIT);
    await bob.page.locator("#messages li.theirs .reaction.me", { hasText: "👍 1" }).waitFor(WAIT);

    // Alice edits her message: Bob sees the new text marked edited.
    const aliceFirst = alice.page.locator("#messages li.mine", { hasText: "Lunch" });
    await aliceFirst.hover();
    await aliceFirst.locator(".actions button", { hasText: "Edit" }).click();
    // (While editing, the text is in the textarea: the bubble no longer matches by its text.)
    await alice.page.locator("#messages .edit-box textarea").fill(`Lunch at noon, @${bob.username}?`);
    await alice.page.locator("#messages .edit-box button", { hasText: "Save" }).click();
    await bob.page.locator("#messages li.theirs .text", { hasText: "Lunch at noon" }).waitFor(WAIT);
    await bob.page.locator("#messages li.theirs .meta", { hasText: "(edited)" }).waitFor(WAIT);

    // Bob goes offline; meanwhile Alice deletes her second message and edits the first again.
    await alice.page.fill("#message-input", "oops, wrong chat");
    await alice.page.press("#message-input", "Enter");
    await bob.page.locator("#messages li.theirs .text", { hasText: "oops, wrong chat" }).waitFor(WAIT);
    bob.network.down = true;
    for (const ws of bob.network.live) await ws.close({ code: 4000, reason: "network down (test)" });
    bob.network.live.clear();
    await bob.page.locator('#conn[data-status="reconnecting"]').waitFor(WAIT);
    const oops = alice.page.locator("#messages li.mine", { hasText: "oops, wrong chat" });
    await oops.hover();
    await oops.locator(".actions button", { hasText: "Delete" }).click();
    await oops.locator(".actions button", { hasText: "Delete?" }).click();
    await alice.page.locator("#messages li.mine.deleted .text", { hasText: "Message deleted" }).waitFor(WAIT);
    const edited = alice.page.locator("#messages li.mine", { hasText: "Lunch at noon" });
    await edited.hover();
    await edited.locator(".actions button", { hasText: "Edit" }).click();
    await alice.page.locator("#messages .edit-box textarea").fill("Lunch at one instead");
    await alice.page.locator("#messages .edit-box button", { hasText: "Save" }).click();
    await alice.page.locator("#messages li.mine .text", { hasText: "Lunch at one instead" }).waitFor(WAIT);

    // Bob's network returns: sync with revs brings the edit and the tombstone.
    bob.network.down = false;
    await bob.page.locator('#conn[data-status="online"]').waitFor({ timeout: 30_000 });
    await bob.page.locator("#messages li.theirs .text", { hasText: "Lunch at one instead" }).waitFor(WAIT);
    await bob.page.locator("#messages li.theirs.deleted .text", { hasText: "Message deleted" }).waitFor(WAIT);
    expect(await messageTexts(bob)).toEqual(["Lunch at one instead", "Sure, noon", "Message deleted"]);
    const revsSent = bob.network.sent.map((f) => JSON.parse(f)).filter((f) => f.type === "sync" && f.revs && Object.keys(f.revs).length);
    expect(revsSent.length).toBeGreaterThan(0);
    await shot(bob, "message-life");

    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  },
  BROWSER_TIMEOUT,
);
