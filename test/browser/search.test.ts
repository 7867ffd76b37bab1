// Message search in the built-in client (issue 14), in a real browser against the compiled binary:
// the box finds an old message, shows the match highlighted and its HTML as text, and a click opens
// the conversation scrolled to that message, loading the history before the latest page.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { API, client } from "../support/api";
import { installInEmptyDir, type RunningBinary, startBinary } from "../support/binary";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const WAIT = { timeout: 15_000 };

let install: Awaited<ReturnType<typeof installInEmptyDir>> | undefined;
let server: RunningBinary | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  install = await installInEmptyDir("chat-web-search-");
  server = await startBinary(install.bin, { cwd: install.dir, args: ["--host", "127.0.0.1", "--rate-limit", "false"] });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  if (server) expect(await server.stop()).toBe(0);
  install?.cleanup();
});

test.skipIf(!hasChromium)(
  "the search box finds an old message, highlights it, and a click jumps to it",
  async () => {
    const api = client(server!.url);
    const alice = await api.newUser("alice");
    const bob = await api.newUser("bob");
    const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
    await api.send(bob.token, dm, "first words");
    await api.send(bob.token, dm, "the <b>zebra</b> crossing is on Élm street");
    // More than two pages after it, so the client must load history to show it.
    for (let i = 0; i < 120; i++) expect((await api.send(alice.token, dm, `filler ${i}`)).status).toBe(201);
    const other = await api.newUser("carol");
    const hidden = (await api.dm(bob.token, other.user.id)).body.id as string;
    await api.send(bob.token, hidden, "a zebra alice must never see");

    const context = await browser!.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(server!.url + "/");
    await page.fill('#login-form input[name="username"]', alice.user.username);
    await page.fill('#login-form input[name="password"]', alice.password);
    await page.click('#login-form button[type="submit"]');
    await page.locator("#me-name", { hasText: alice.user.username }).waitFor(WAIT);

    await page.fill("#message-search", "ZEBRA elm");
    const result = page.locator("#message-search-results li");
    await result.first().waitFor(WAIT);
    expect(await result.count()).toBe(1);
    expect(await result.locator(".snippet").textContent()).toBe("the <b>zebra</b> crossing is on Élm street");
    expect(await result.locator("mark").allTextContents()).toEqual(["zebra", "Élm"]);
    expect(await result.locator("b").count()).toBe(0); // the message's HTML stays text

    await result.click();
    const target = page.locator('#messages li[data-seq="2"]');
    await target.waitFor(WAIT);
    expect(await target.locator(".text").textContent()).toBe("the <b>zebra</b> crossing is on Élm street");
    expect(await target.evaluate((li) => li.classList.contains("found"))).toBe(true);
    expect(await target.isVisible()).toBe(true);
    const inView = await target.evaluate((li) => {
      const box = li.getBoundingClientRect();
      const list = document.getElementById("messages")!.getBoundingClientRect();
      return box.top >= list.top && box.bottom <= list.bottom;
    });
    expect(inView).toBe(true);

    // No match: a status line, no stale results; a query of punctuation only: the server's reason.
    await page.fill("#message-search", "nothingmatchesthis");
    await page.locator("#message-search-status", { hasText: "No messages found" }).waitFor(WAIT);
    expect(await result.count()).toBe(0);
    await page.fill("#message-search", "!!!");
    await page.locator("#message-search-status", { hasText: "must contain a word" }).waitFor(WAIT);

    // The REST view agrees: alice's search never shows carol's conversation.
    const rest = await api.get(`${API}/search/messages?q=zebra`, alice.token);
    expect(rest.body.results.map((r: any) => r.message.conversation_id)).toEqual([dm]);
    expect(errors.filter((e) => !/422/.test(e))).toEqual([]);
    await context.close();
  },
  120_000,
);
