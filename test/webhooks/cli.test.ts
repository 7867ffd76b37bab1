// `chat-server webhook add|list|remove` as an operator runs it (real processes of src/index.ts)
// beside a running server: hot add and remove, the secret shown once, SSRF refusals at add and at
// delivery, and an outbox that survives SIGKILL between commit and delivery.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { client, type Api } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { webhooks } from "../../src/db/schema";
import { verifySignature } from "../../src/modules/webhooks/signature";
import { hooksOf } from "./hooks";
import { startReceiver, unique, type Receiver } from "./receiver";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");

function cleanEnv() {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CHAT_") && k !== "PORT") env[k] = v;
  return env;
}

async function cli(args: string[]) {
  const proc = Bun.spawn([process.execPath, "run", ENTRY, ...args], { env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

const receivers: Receiver[] = [];
function receiver(...args: Parameters<typeof startReceiver>) {
  const r = startReceiver(...args);
  receivers.push(r);
  return r;
}
afterAll(() => receivers.forEach((r) => r.close()));

async function dm(api: Api) {
  const a = await api.newUser("ca");
  const b = await api.newUser("cb");
  const conversation = await api.dm(a.token, b.user.id);
  return { token: a.token, conversationId: conversation.body.id as string };
}

describe("webhook commands beside a running server", () => {
  let server: TestServer;
  let api: Api;
  beforeAll(async () => {
    server = await startTestServer({ webhookAllowPrivate: true, rateLimit: false });
    api = client(server.url);
  });
  afterAll(() => server.close());

  test("a hook added while the server runs receives events at once; once removed it receives no more", async () => {
    const first = receiver();
    const second = receiver();
    const added = await cli(["webhook", "add", "--data-dir", server.dataDir, "--webhook-allow-private", "true", "--url", first.url + "/a", "--events", "message.created"]);
    expect(added.code).toBe(0);
    const secret = added.stdout.match(/^secret: (\S+)$/m)?.[1];
    const id = added.stdout.match(/created webhook (\S+)/)?.[1];
    expect(secret).toStartWith("whsec_");
    const { token, conversationId } = await dm(api);
    await api.send(token, conversationId, "one");
    await first.until((d) => d.length === 1);
    expect(verifySignature(secret!, first.deliveries[0]!.signature, first.deliveries[0]!.raw)).toBe(true);

    const listed = await cli(["webhook", "list", "--data-dir", server.dataDir, "--json"]);
    const hooks = JSON.parse(listed.stdout);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ id, url: first.url + "/a", events: ["message.created"], delivered: 1, failed: 0, pending: 0 });
    expect(listed.stdout).not.toContain(secret!);
    const text = await cli(["webhook", "list", "--data-dir", server.dataDir]);
    expect(text.stdout).toContain("delivered: 1");

    expect((await cli(["webhook", "remove", "--data-dir", server.dataDir, id!])).code).toBe(0);
    const json = await cli(["webhook", "add", "--data-dir", server.dataDir, "--webhook-allow-private", "true", "--url", second.url, "--events", "message.created", "--json"]);
    expect(JSON.parse(json.stdout).secret).toStartWith("whsec_");
    await api.send(token, conversationId, "two");
    await second.until((d) => d.length === 1);
    expect(second.deliveries[0]!.data.content).toBe("two");
    expect(first.deliveries.map((d) => d.data.content)).toEqual(["one"]);
  }, 30_000);

  test("bad input fails naming the flag", async () => {
    const cases: [string[], string][] = [
      [["webhook", "add", "--url", "http://example.com", "--events", "message.sent"], "message.sent"],
      [["webhook", "add", "--url", "http://example.com"], "--events"],
      [["webhook", "add", "--events", "all"], "--url"],
      [["webhook", "add", "--url", "http://example.com", "--events", "all", "--concurrency", "0"], "--concurrency"],
      [["webhook", "add", "--url", "http://127.0.0.1:9/", "--events", "all", "--conversation", "nope", "--webhook-allow-private", "true"], "--conversation"],
      [["webhook", "remove", "nope"], "nope"],
      [["webhook", "frob"], "frob"],
    ];
    for (const [args, word] of cases) {
      const result = await cli([...args, "--data-dir", server.dataDir]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(word);
    }
  }, 30_000);
});

describe("SSRF", () => {
  let server: TestServer;
  let api: Api;
  beforeAll(async () => {
    server = await startTestServer({ rateLimit: false });
    api = client(server.url);
  });
  afterAll(() => server.close());

  test("targets on private, loopback, link-local or non-http addresses are refused at add, in every spelling", async () => {
    const refused = [
      "http://127.0.0.1:9/",
      "http://localhost:9/",
      "http://[::1]/",
      "http://2130706433/",
      "http://0x7f.0.0.1/",
      "http://0177.0.0.1/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:0:7f00:1]/",
      "http://[64:ff9b:1::7f00:1]/",
      "http://10.1.2.3/",
      "http://192.168.0.1/",
      "http://172.16.5.5/",
      "http://100.64.0.1/",
      "http://169.254.169.254/latest/meta-data",
      "http://[fe80::1]/",
      "http://[fd00::1]/",
      "http://0.0.0.0/",
      "http://224.0.0.1/",
      "ftp://example.com/",
      "file:///etc/passwd",
    ];
    for (const url of refused) {
      const result = await cli(["webhook", "add", "--data-dir", server.dataDir, "--url", url, "--events", "all"]);
      expect(result.code, url).toBe(2);
      expect(result.stderr, url).toContain("--url");
    }
    expect(hooksOf(server.db)).toEqual([]);
  }, 60_000);

  test("a name that resolves to loopback at delivery time (DNS rebinding) is refused then too", async () => {
    const r = receiver();
    // As if example.com had been re-pointed at 127.0.0.1 after `add` checked it.
    server.db
      .insert(webhooks)
      .values({ id: Bun.randomUUIDv7(), url: `http://localhost:${r.port}/hook`, events: ",message.created,", secret: "whsec_x", createdAt: Date.now() })
      .run();
    const { token, conversationId } = await dm(api);
    await api.send(token, conversationId, "to an inner address");
    const deadline = Date.now() + 15_000;
    while (!hooksOf(server.db)[0]?.last_error && Date.now() < deadline) await Bun.sleep(25);
    const [hook] = hooksOf(server.db);
    expect(hook!.last_error).toContain("a loopback address");
    expect(hook!.delivered).toBe(0);
    expect(r.deliveries).toEqual([]);
  }, 30_000);
});

describe("crash durability", () => {
  test("events committed before a SIGKILL, even mid-delivery, are delivered after the restart with the same ids", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "chat-webhook-crash-"));
    let release!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    // Holds every request until released: the first delivery is in flight when the server dies.
    const r = receiver(async () => {
      await gate;
      return new Response("ok");
    });
    const start = () =>
      Bun.spawn(
        [process.execPath, "run", ENTRY, "serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1", "--webhook-allow-private", "true", "--rate-limit", "false", "--log-format", "json"],
        { env: cleanEnv(), stdout: "ignore", stderr: "pipe" },
      );
    const listening = async (proc: ReturnType<typeof start>) => {
      const reader = proc.stderr.getReader();
      let text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error("server exited: " + text);
        text += new TextDecoder().decode(value);
        const url = text.match(/"url":"(http:\/\/[^"]+?)\/?"/)?.[1];
        if (url) {
          // Keep draining so request logs never fill the pipe and stall the server.
          void (async () => {
            while (!(await reader.read()).done);
          })();
          return url;
        }
      }
    };
    try {
      expect((await cli(["webhook", "add", "--data-dir", dataDir, "--webhook-allow-private", "true", "--url", r.url, "--events", "message.created"])).code).toBe(0);
      let proc = start();
      const api = client(await listening(proc));
      const { token, conversationId } = await dm(api);
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) sent.push((await api.send(token, conversationId, `m${i}`)).body.id);
      await r.until((d) => d.length >= 1);
      const beforeKill = r.deliveries.map((d) => [d.id, d.data.id]);
      proc.kill("SIGKILL");
      await proc.exited;
      release();

      proc = start();
      await listening(proc);
      await r.until((d) => unique(d).length >= 5);
      proc.kill("SIGTERM");
      await proc.exited;
      const events = unique(r.deliveries);
      expect(events.map((d) => d.data.id)).toEqual(sent);
      expect(events.length).toBe(5);
      // A redelivery carries the id the receiver saw before the crash.
      for (const [eventId, messageId] of beforeKill) expect(events.find((d) => d.id === eventId)?.data.id).toBe(messageId);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
