// An upload the client abandons mid-body (the connection closes before Content-Length bytes, or
// before a chunked body's last chunk): a 400 upload_aborted in the request log and /metrics, no
// error-level line, no temporary file and no row. On both engines (CHAT_TEST_POSTGRES=1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config";
import { ApiError } from "../../src/errors";
import { createLogger } from "../../src/lib/logger";
import { receiveUpload } from "../../src/modules/attachments/upload";
import { startServer, type RunningServer } from "../../src/server";
import { client, type TestUser } from "../support/api";
import { sharedPostgres } from "../support/postgres";
import { onPostgres, type TestServer } from "../support/server";
import { sqlNumber } from "../support/sql";
import { filesOnDisk } from "../support/uploads";

const postgres = sharedPostgres();

/** A real server whose JSON log lines (debug and up) are kept in memory. */
async function startLoggedServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-upload-abort-"));
  const lines: string[] = [];
  const out = { write: (line: string) => (lines.push(line), true) } as unknown as typeof process.stderr;
  const database: Partial<Config> = onPostgres ? { databaseUrl: await (await postgres()).createDatabase(), jwtSecret: "test-secret-".repeat(4) } : {};
  const config: Config = { ...loadConfig([], {}), port: 0, host: "127.0.0.1", dataDir, rateLimit: false, ...database };
  const running: RunningServer = await startServer(config, createLogger("debug", "json", out));
  return {
    running,
    dataDir,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, any>),
    async close() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let s: Awaited<ReturnType<typeof startLoggedServer>>;
let alice: TestUser;
beforeAll(async () => {
  s = await startLoggedServer();
  alice = await client(s.running.url).newUser("abort");
});
afterAll(() => s.close());

const temporaries = () => filesOnDisk(s.dataDir).filter((f) => f.startsWith("tmp/"));

async function until(done: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * Writes the upload's head and the first part of its body over TCP, waits until the server is
 * streaming it into a temporary file, then closes the connection.
 */
async function abandonUpload(requestId: string, head: Record<string, string>, firstBytes: Buffer) {
  const lines = [
    "POST /api/v1/attachments HTTP/1.1",
    "Host: localhost",
    `Authorization: Bearer ${alice.token}`,
    `X-Request-Id: ${requestId}`,
    ...Object.entries(head).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ];
  const socket = connect(s.running.port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.write(lines.join("\r\n"));
  socket.write(firstBytes);
  await until(() => temporaries().length > 0, "the upload streaming to a temporary file");
  socket.destroy();
}

const sample = (text: string, labels: Record<string, string>) => {
  for (const line of text.split("\n")) {
    const m = /^chat_http_requests_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return 0;
};

describe("an upload the client abandons mid-body", () => {
  const cases: [string, Record<string, string>, Buffer][] = [
    ["a raw body short of its Content-Length", { "Content-Type": "application/octet-stream", "Content-Length": "10000000" }, Buffer.alloc(256 * 1024, 1)],
    [
      "a multipart body short of its Content-Length",
      { "Content-Type": "multipart/form-data; boundary=cut", "Content-Length": "10000000" },
      Buffer.concat([Buffer.from('--cut\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'), Buffer.alloc(256 * 1024, 2)]),
    ],
    [
      "a chunked body without its last chunk",
      { "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" },
      Buffer.concat([Buffer.from(`${(256 * 1024).toString(16)}\r\n`), Buffer.alloc(256 * 1024, 3), Buffer.from("\r\n")]),
    ],
  ];

  for (const [what, head, firstBytes] of cases) {
    test(`${what}: a 400 upload_aborted logged at info, not an error; no temporary file, no row`, async () => {
      const requestId = crypto.randomUUID();
      const metricsBefore = await (await fetch(`${s.running.url}/metrics`)).text();
      const linesBefore = s.records().length;
      await abandonUpload(requestId, head, firstBytes);
      await until(() => s.records().some((r) => r.request_id === requestId), "the request's log line");
      expect(s.records().find((r) => r.request_id === requestId)).toMatchObject({ level: "info", msg: "request", route: "/api/v1/attachments", status: 400 });
      // Nothing above info about it: no "unhandled error" with "The connection was closed.".
      expect(s.records().slice(linesBefore).filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
      const metrics = await (await fetch(`${s.running.url}/metrics`)).text();
      const route = { method: "POST", route: "/api/v1/attachments" };
      expect(sample(metrics, { ...route, status: "500" })).toBe(0);
      expect(sample(metrics, { ...route, status: "400" }) - sample(metricsBefore, { ...route, status: "400" })).toBe(1);
      await until(() => temporaries().length === 0, "the temporary file removed");
      expect(await sqlNumber(s.running as TestServer, "SELECT count(*) AS n FROM attachments WHERE owner_id = ?", alice.user.id)).toBe(0);
    });
  }
});

test("receiveUpload: a body whose read fails because the client went away is 400 upload_aborted, and its temporary file is gone", async () => {
  const filesDir = join(s.dataDir, "files");
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ < 3) controller.enqueue(new Uint8Array(1024).fill(pulls));
      else controller.error(new DOMException("The connection was closed.", "AbortError"));
    },
  });
  const request = new Request("http://localhost/api/v1/attachments", { method: "POST", body, duplex: "half" } as RequestInit);
  const error = await receiveUpload(request, filesDir, { maxBytes: 1 << 20, quotaLeft: 1 << 20 }, null).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  expect(error).toMatchObject({ status: 400, code: "upload_aborted" });
  expect(temporaries()).toEqual([]);
});
