// Attachments in the built-in web client, in a real Chromium (playwright-core): Alice attaches an
// image, sends it; Bob sees the preview (fetched with his token, shown through a blob: URL the page's
// CSP allows) and downloads the file under its name. No console or CSP errors on either side.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { API, client, PASSWORD } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const WAIT = { timeout: 15_000 };
// The classic 1×1 PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

let server: TestServer;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  server = await startTestServer({ rateLimit: false });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function loggedIn(username: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser!.newContext({ viewport: { width: 1100, height: 700 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(server.url + "/");
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', PASSWORD);
  await page.click('#login-form button[type="submit"]');
  await page.locator('#conn[data-status="online"]').waitFor(WAIT);
  return { page, errors };
}

test.skipIf(!hasChromium)(
  "an image is attached and sent, previews on the other side, and downloads under its name",
  async () => {
    const api = client(server.url);
    const a = await api.newUser("wa");
    const b = await api.newUser("wb");
    const dm = (await api.dm(a.token, b.user.id)).body.id;
    await api.send(a.token, dm, "photo coming");
    const alice = await loggedIn(a.user.username);
    const bob = await loggedIn(b.user.username);

    await alice.page.locator("#conversation-list li").first().click();
    await alice.page.locator("#file-input").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: PNG });
    await alice.page.locator("#attach-list .chip", { hasText: /^dot\.png×$/ }).waitFor(WAIT);
    await alice.page.fill("#message-input", "here it is");
    await alice.page.press("#message-input", "Enter");

    await bob.page.locator("#conversation-list li").first().click();
    const thumb = bob.page.locator("#messages li.theirs img.thumb");
    await thumb.waitFor(WAIT);
    await bob.page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>("#messages li.theirs img.thumb");
      return !!img && img.src.startsWith("blob:") && img.complete && img.naturalWidth === 1;
    }, null, WAIT);
    const [download] = await Promise.all([bob.page.waitForEvent("download", WAIT), bob.page.locator("#messages li.theirs a.download").click()]);
    expect(download.suggestedFilename()).toBe("dot.png");
    const saved = await download.path();
    expect(Buffer.from(await Bun.file(saved!).arrayBuffer()).equals(PNG)).toBe(true);

    // The message as the server has it.
    const history = await api.get(`${API}/conversations/${dm}/messages`, b.token);
    expect(history.body.at(-1)).toMatchObject({ content: "here it is", attachments: [{ filename: "dot.png", content_type: "image/png", width: 1, height: 1 }] });
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  },
  120_000,
);
