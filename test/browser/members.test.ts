// The built-in client's members panel and conversation tools in a real browser (Debian's Chromium
// through playwright-core): the owner adds someone by username, makes a member admin, removes
// another (whose open page drops the conversation at once), pins and mutes, blocks a user, and
// leaves. Users and conversations are made over REST; each page logs in with its stored token.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { API, type Api, client, type TestUser } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const WAIT = { timeout: 15_000 };

let server: TestServer | undefined;
let api: Api;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A page logged in as the user, with every uncaught error and console error collected; dialogs are accepted. */
async function open(user: TestUser): Promise<{ page: Page; errors: string[] }> {
  const page = await (await browser!.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("dialog", (d) => d.accept());
  await page.goto(server!.url + "/");
  await page.evaluate((token) => localStorage.setItem("chat.token", token), user.token);
  await page.reload();
  await page.locator('#conn[data-status="online"]').waitFor(WAIT);
  return { page, errors };
}

const memberRow = (page: Page, username: string) => page.locator("#members-panel .member", { hasText: username });

test.skipIf(!hasChromium)(
  "members panel: add by username, make admin, remove (the removed page drops it), pin, mute, block, leave",
  async () => {
    const [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map((n) => api.newUser(n)));
    const group = await api.group(alice!.token, "Team", [bob!.user.id, carol!.user.id]);
    await api.dm(alice!.token, bob!.user.id);
    const a = await open(alice!);
    const c = await open(carol!);

    await a.page.locator("#conversation-list li", { hasText: "Team" }).click();
    await a.page.click("#members-toggle");
    await memberRow(a.page, alice!.user.username).locator(".role", { hasText: "owner" }).waitFor(WAIT);
    expect(await a.page.locator("#members-panel .member").count()).toBe(3);

    // Add dave through the user search.
    await a.page.fill("#member-search", dave!.user.username);
    await a.page.locator("#members-panel .search-results li", { hasText: dave!.user.username }).click();
    await memberRow(a.page, dave!.user.username).waitFor(WAIT);

    // Bob becomes admin.
    await memberRow(a.page, bob!.user.username).getByRole("button", { name: "Make admin" }).click();
    await memberRow(a.page, bob!.user.username).locator(".role", { hasText: "admin" }).waitFor(WAIT);

    // Carol, with Team open, is removed: her page drops it at once (conversation_removed).
    await c.page.locator("#conversation-list li", { hasText: "Team" }).click();
    await c.page.locator("#chat-title", { hasText: "Team" }).waitFor(WAIT);
    await memberRow(a.page, carol!.user.username).getByRole("button", { name: "Remove" }).click();
    await c.page.locator("#conversation-list li", { hasText: "Team" }).waitFor({ state: "detached", ...WAIT });
    await c.page.locator("#chat-title", { hasText: "Pick a conversation" }).waitFor(WAIT);
    await memberRow(a.page, carol!.user.username).waitFor({ state: "detached", ...WAIT });

    // Pin and mute show in the list; the server agrees.
    await a.page.click("#pin-toggle");
    await a.page.click("#mute-toggle");
    await a.page.locator("#conversation-list li.pinned.muted", { hasText: "Team" }).waitFor(WAIT);
    expect((await api.get(`${API}/conversations/${group.body.id}`, alice!.token)).body).toMatchObject({ pinned: true, muted: true });

    // Block bob from the direct conversation's header.
    await a.page.locator("#conversation-list li", { hasText: bob!.user.username }).click();
    await a.page.locator(".block-toggle", { hasText: "Block" }).click();
    await a.page.locator(".block-toggle", { hasText: "Unblock" }).waitFor(WAIT);
    expect((await api.get(`${API}/users/me/blocks`, alice!.token)).body.map((u: any) => u.id)).toEqual([bob!.user.id]);

    // Alice leaves Team: it disappears, and bob (the admin) owns it now.
    await a.page.locator("#conversation-list li", { hasText: "Team" }).click();
    await memberRow(a.page, alice!.user.username).getByRole("button", { name: "Leave" }).click();
    await a.page.locator("#conversation-list li", { hasText: "Team" }).waitFor({ state: "detached", ...WAIT });
    const after = (await api.get(`${API}/conversations/${group.body.id}`, bob!.token)).body;
    expect(after.members.find((m: any) => m.user_id === bob!.user.id).role).toBe("owner");

    expect(a.errors).toEqual([]);
    expect(c.errors).toEqual([]);
  },
  120_000,
);
