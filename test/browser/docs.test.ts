// /docs in a real browser with no internet: Debian's Chromium, every non-local request blocked,
// against the compiled binary (which serves the Scalar bundle itself). The page must render every
// operation, and its Authorize button (OAuth2 password flow) must log in so that "Test Request"
// on GET /api/v1/auth/me succeeds. Screenshots land in test-artifacts/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { client } from "../support/api";
import { installInEmptyDir, ROOT, type RunningBinary, startBinary } from "../support/binary";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`test/browser: skipping the /docs browser tests, ${CHROMIUM} is missing (apt-get install -y chromium; CI installs it)`);
}

const ARTIFACTS = join(ROOT, "test-artifacts");
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const BROWSER_TIMEOUT = 90_000;

let install: Awaited<ReturnType<typeof installInEmptyDir>> | undefined;
let server: RunningBinary | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  install = await installInEmptyDir("chat-docs-");
  server = await startBinary(install.bin, { cwd: install.dir, args: ["--host", "127.0.0.1"] });
});

afterAll(async () => {
  await browser?.close();
  if (server) expect(await server.stop()).toBe(0);
  install?.cleanup();
});

/** A page on which every request to a non-local host is aborted and recorded, as are page errors and CSP violations. */
async function offlinePage(): Promise<{ page: Page; external: string[]; errors: string[] }> {
  if (!browser) {
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
  }
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const external: string[] = [];
  const errors: string[] = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    const host = new URL(url).hostname;
    if (LOCAL_HOSTS.has(host) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    external.push(url);
    return route.abort("internetdisconnected");
  });
  page.on("pageerror", (error) => errors.push(error.message));
  // The page's Content-Security-Policy must let the docs work: a violation is an error too.
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  return { page, external, errors };
}

async function shot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `docs-${name}.png`) });
}

type Operation = { method: string; path: string; tag: string; summary: string };

async function specOperations(): Promise<Operation[]> {
  const spec = (await (await fetch(`${server!.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { tags?: string[]; summary?: string }>> };
  return Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method, path, tag: op.tags?.[0] ?? "", summary: op.summary ?? "" })),
  );
}

// Independent of the browser: what the docs page's Authorize button relies on.
test("the spec's OAuth2 password flow points at a tokenUrl that takes the form Scalar sends, and its token works", async () => {
  const api = client(server!.url);
  const spec = await (await fetch(`${server!.url}/openapi.json`)).json();
  const tokenUrl = spec.components.securitySchemes.oauth2.flows.password.tokenUrl as string;
  expect(tokenUrl).toBe("/api/v1/auth/login");
  const { user, password } = await api.newUser("formflow");
  // Byte for byte the body Scalar 1.76 posted in the browser test below.
  const login = await api.request("POST", tokenUrl, { form: { grant_type: "password", username: user.username, password } });
  expect(login.status).toBe(200);
  expect(login.body.token_type).toBe("bearer");
  const me = await api.get("/api/v1/auth/me", login.body.access_token);
  expect(me.status).toBe(200);
  expect(me.body.id).toBe(user.id);
  // /me accepts either scheme, so the docs' Test Request uses the OAuth2 token as a bearer.
  expect(spec.paths["/api/v1/auth/me"].get.security).toEqual(expect.arrayContaining([{ oauth2: [] }]));
});

describe.skipIf(!hasChromium)("/docs in Chromium with no internet", () => {
  test(
    "renders the Scalar UI from the binary, with every tag and operation, and asks nothing of the internet",
    async () => {
      const { page, external, errors } = await offlinePage();
      try {
        const scriptResponse = page.waitForResponse((r) => r.url().endsWith("/docs/scalar.js"));
        const response = await page.goto(`${server!.url}/docs`);
        expect(response?.status()).toBe(200);
        const script = await scriptResponse;
        expect(script.status()).toBe(200);
        expect(script.headers()["content-type"]).toContain("javascript");

        await page.getByRole("heading", { name: "Chat server API" }).first().waitFor();
        const operations = await specOperations();
        expect(operations.length).toBeGreaterThan(10);
        const sidebar = page.getByRole("complementary").first();
        const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        // Every tag's group opens in the sidebar and links each of its operations by summary and method.
        for (const tag of [...new Set(operations.map((o) => o.tag))]) {
          const open = sidebar.getByRole("button", { name: `Open Group - ${tag}`, exact: true });
          if (await open.count()) await open.first().click();
          await sidebar.getByRole("button", { name: `Close Group - ${tag}`, exact: true }).first().waitFor();
          for (const op of operations.filter((o) => o.tag === tag)) {
            // Scalar's sidebar names DELETE by its short form, "del".
            const method = op.method === "delete" ? "del" : op.method;
            const name = new RegExp(`^${escape(op.summary)} HTTP Method: ${method}$`, "i");
            await sidebar.getByRole("link", { name }).first().waitFor({ state: "visible", timeout: 10_000 });
          }
        }
        // The first section's operation list and an operation's request example rendered too.
        await page.getByText("Operations").first().waitFor();
        for (const path of ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/me"]) {
          expect(await page.getByText(path, { exact: true }).count()).toBeGreaterThan(0);
        }
        await page.getByText("Authentication").first().waitFor();
        await shot(page, "rendered");
        expect(errors).toEqual([]);
        expect(external).toEqual([]);
      } finally {
        await page.close();
      }
    },
    BROWSER_TIMEOUT,
  );

  test(
    "Authorize with username and password (OAuth2 password flow), then Test Request on GET /api/v1/auth/me returns the user",
    async () => {
      const api = client(server!.url);
      const { user, password } = await api.newUser("docs");
      const { page, external, errors } = await offlinePage();
      try {
        await page.goto(`${server!.url}/docs`);
        await page.getByRole("heading", { name: "Chat server API" }).first().waitFor();

        // The Authentication card opens on the OAuth2 password flow (preferredSecurityScheme).
        await page.getByText("Selected Auth Type: oauth2").first().waitFor();
        await page.getByLabel("Username").first().click();
        await page.keyboard.type(user.username);
        await page.getByLabel("Password").first().fill(password);
        await shot(page, "authorize-filled");

        const loginResponse = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/login") && r.request().method() === "POST");
        await page.getByRole("button", { name: "Authorize", exact: true }).first().click();
        const login = await loginResponse;
        expect(login.status()).toBe(200);
        expect(login.request().headers()["content-type"]).toContain("application/x-www-form-urlencoded");
        const form = new URLSearchParams(login.request().postData() ?? "");
        expect(form.get("grant_type")).toBe("password");
        expect(form.get("username")).toBe(user.username);
        const issued = (await login.json()).access_token as string;
        await page.getByText("Access Token").first().waitFor();
        await shot(page, "authorized");

        // Test Request on "Your own profile" opens Scalar's client; Send calls the API with the token.
        await page.getByRole("complementary").getByRole("link", { name: /^Your own profile HTTP Method: GET$/ }).first().click();
        await page.getByRole("button", { name: "Test Request (get /api/v1/auth/me)" }).first().click();
        const send = page.getByRole("button", { name: /^Send get request to \/api\/v1\/auth\/me/ }).first();
        await send.waitFor();
        const meResponse = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/me") && r.request().method() === "GET");
        await send.click();
        const me = await meResponse;
        expect(me.request().headers()["authorization"]).toBe(`Bearer ${issued}`);
        expect(me.status()).toBe(200);
        const body = await me.json();
        expect(body.id).toBe(user.id);
        expect(body.email).toBe(user.email);
        // And the client shows it.
        await page.getByText("200 OK").first().waitFor();
        await page.getByText(`"${user.username}"`).first().waitFor();
        await shot(page, "me-response");

        expect(errors).toEqual([]);
        expect(external).toEqual([]);
      } finally {
        await page.close();
      }
    },
    BROWSER_TIMEOUT,
  );

  test(
    "/docs/ with a trailing slash renders too (the spec URL is absolute)",
    async () => {
      const { page, external } = await offlinePage();
      try {
        const spec = page.waitForResponse((r) => new URL(r.url()).pathname === "/openapi.json");
        await page.goto(`${server!.url}/docs/`);
        expect((await spec).status()).toBe(200);
        await page.getByRole("heading", { name: "Chat server API" }).first().waitFor();
        expect(external).toEqual([]);
      } finally {
        await page.close();
      }
    },
    BROWSER_TIMEOUT,
  );
});
