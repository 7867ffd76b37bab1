// Attachments (issue 14): uploads raw and multipart, streamed limits, sniffing, names, access, ranges,
// dedup of identical bytes, sends that carry attachment_ids, the sweep and releasing a message's files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { releaseAttachments, sweepUnusedUploads } from "../../src/modules/attachments/service";
import { filesDirOf } from "../../src/modules/attachments/store";
import { API, type Api, client, randomUuid } from "../support/api";
import { expectError } from "../support/expect";
import { freshServers, startTestServer, type TestServer } from "../support/server";
import { connect } from "../support/socket";
import { download, filesOnDisk, gifHead, jpegHead, pngHead, upload, webpHead } from "../support/uploads";
import { sqlNumber } from "../support/sql";

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: false });
  api = client(server.url);
});
afterAll(() => server.close());

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
const blobOf = (dataDir: string, sha: string) => join(dataDir, "files", sha.slice(0, 2), sha.slice(2, 4), sha);
const unique = (label: string) => `${label} ${randomUuid()}`;

async function pair() {
  const alice = await api.newUser("fa");
  const bob = await api.newUser("fb");
  const dm = (await api.dm(alice.token, bob.user.id)).body.id as string;
  return { alice, bob, dm };
}

const sendWith = (token: string, conversationId: string, body: Record<string, unknown>) =>
  api.request("POST", `${API}/conversations/${conversationId}/messages`, { token, body });

describe("upload", () => {
  test("a raw body is stored under its sha256 (0600), answered as an Attachment, and downloads byte for byte", async () => {
    const { alice } = await pair();
    const text = unique("raw file");
    const res = await upload(server.url, alice.token, text, { type: "text/plain; charset=utf-8", filename: "notes.txt" });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["content_type", "created_at", "filename", "id", "sha256", "size"]);
    expect(res.body).toMatchObject({ filename: "notes.txt", content_type: "text/plain", size: Buffer.byteLength(text), sha256: sha256(text) });
    const path = blobOf(server.dataDir, sha256(text));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await Bun.file(path).text()).toBe(text);
    const got = await download(server.url, alice.token, res.body.id);
    expect(got.status).toBe(200);
    expect(new TextDecoder().decode(got.bytes)).toBe(text);
    expect(got.headers.get("etag")).toBe(`"${sha256(text)}"`);
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("content-security-policy")).toContain("sandbox");
    expect(got.headers.get("content-disposition")).toBe(`attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`);
  });

  test("multipart/form-data takes the part named file, with its own name and type; other fields are ignored", async () => {
    const { alice } = await pair();
    const bytes = pngHead(640, 480);
    const res = await upload(server.url, alice.token, bytes, { multipart: true, type: "image/png", filename: "cat.png" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ filename: "cat.png", content_type: "image/png", size: bytes.length, sha256: sha256(bytes), width: 640, height: 480 });
    const got = await download(server.url, alice.token, res.body.id);
    expect(Buffer.from(got.bytes).equals(bytes)).toBe(true);
    expect(got.headers.get("content-type")).toBe("image/png");
    expect(got.headers.get("content-disposition")).toStartWith("inline;");
  });

  test("a multipart body without a file part is a 422 naming file; a broken one a 400", async () => {
    const { alice } = await pair();
    const form = new FormData();
    form.append("other", "x");
    const res = await fetch(`${server.url}${API}/attachments`, { method: "POST", headers: { authorization: `Bearer ${alice.token}` }, body: form });
    expectError({ status: res.status, body: await res.json(), headers: res.headers }, 422, { field: "file" });
    const broken = await upload(server.url, alice.token, "--b\r\nno headers end", { type: "multipart/form-data; boundary=b" });
    expectError(broken as any, 400, { code: "malformed_body" });
    expect(filesOnDisk(server.dataDir).filter((f) => f.startsWith("tmp/"))).toEqual([]);
  });

  test("an upload the client abandons halfway leaves no temporary file and no row", async () => {
    const { alice } = await pair();
    const rows = () => sqlNumber(server, "SELECT count(*) AS n FROM attachments WHERE owner_id = ?", alice.user.id);
    const abort = new AbortController();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 8) {
          abort.abort();
          return;
        }
        sent++;
        controller.enqueue(new Uint8Array(64 * 1024).fill(sent));
      },
    });
    const attempt = fetch(`${server.url}${API}/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/octet-stream" },
      body: stream,
      signal: abort.signal,
      duplex: "half",
    } as RequestInit);
    await attempt.catch(() => {});
    // The server notices the dropped connection on its next read; give it a moment, boundedly. The
    // temporary file may not exist yet when the client gives up (on PostgreSQL the token check
    // awaits the database first), so "gone" means no temporary file for 500 ms in a row.
    const temporaries = () => filesOnDisk(server.dataDir).filter((f) => f.startsWith("tmp/"));
    for (let i = 0, clear = 0; i < 100 && clear < 10; i++) {
      clear = temporaries().length === 0 ? clear + 1 : 0;
      await Bun.sleep(50);
    }
    expect(temporaries()).toEqual([]);
    expect(await rows()).toBe(0);
  });

  test("a zero-byte file is a 422 and leaves nothing on disk", async () => {
    const { alice } = await pair();
    const before = filesOnDisk(server.dataDir);
    expectError((await upload(server.url, alice.token, "", { type: "text/plain" })) as any, 422, { field: "file" });
    expectError((await upload(server.url, alice.token, "", { multipart: true, filename: "empty.txt" })) as any, 422, { field: "file" });
    expect(filesOnDisk(server.dataDir)).toEqual(before);
  });

  test("without a token: 401", async () => {
    const res = await upload(server.url, "nope", "x", { type: "text/plain" });
    expect(res.status).toBe(401);
  });
});

describe("limits", () => {
  const fresh = freshServers();

  test("over --max-upload-bytes: 413 with and without Content-Length, raw and multipart, and nothing left on disk", async () => {
    const { server, api } = await fresh({ maxUploadBytes: 64 * 1024, rateLimit: false });
    const user = await api.newUser("big");
    const big = new Uint8Array(64 * 1024 + 1).fill(65);
    // Content-Length announces it: refused before reading.
    expectError((await upload(server.url, user.token, big, { type: "application/octet-stream" })) as any, 413, { code: "payload_too_large" });
    // Multipart: the length is within the framing allowance, so the part itself is counted while it streams.
    expectError((await upload(server.url, user.token, big, { multipart: true, filename: "big.bin" })) as any, 413, { code: "payload_too_large" });
    // Chunked, no Content-Length: counted while streaming (1 MiB offered in 16 KiB chunks).
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1024 * 1024) return controller.close();
        sent += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(66));
      },
    });
    const chunked = await upload(server.url, user.token, stream, { type: "application/octet-stream" });
    expectError(chunked as any, 413, { code: "payload_too_large" });
    // Exactly at the limit is fine.
    expect((await upload(server.url, user.token, big.subarray(1), { type: "application/octet-stream" })).status).toBe(201);
    const files = filesOnDisk(server.dataDir);
    expect(files).toEqual([join(sha256(big.subarray(1)).slice(0, 2), sha256(big.subarray(1)).slice(2, 4), sha256(big.subarray(1)))]);
    expect(await sqlNumber(server, "SELECT count(*) AS n FROM attachments")).toBe(1);
  });

  test("the per-user quota: an upload that would pass it is 413 quota_exceeded; others are not affected", async () => {
    const { server, api } = await fresh({ uploadQuotaBytes: 100, rateLimit: false });
    const [a, b] = [await api.newUser("qa"), await api.newUser("qb")];
    expect((await upload(server.url, a.token, "x".repeat(60), { type: "text/plain" })).status).toBe(201);
    expectError((await upload(server.url, a.token, "y".repeat(60), { type: "text/plain" })) as any, 413, { code: "quota_exceeded" });
    expectError((await upload(server.url, a.token, "z".repeat(60), { multipart: true })) as any, 413, { code: "quota_exceeded" });
    expect((await upload(server.url, b.token, "y".repeat(60), { type: "text/plain" })).status).toBe(201);
    expect(filesOnDisk(server.dataDir).filter((f) => f.startsWith("tmp/"))).toEqual([]);
  });

  test("uploads per minute are rate-limited (429 with Retry-After)", async () => {
    const { server, api } = await fresh({});
    const user = await api.newUser("rate");
    for (let i = 0; i < 60; i++) expect((await upload(server.url, user.token, `tiny ${i}`, { type: "text/plain" })).status).toBe(201);
    const refused = await upload(server.url, user.token, "one more", { type: "text/plain" });
    expectError(refused as any, 429, { code: "rate_limited" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("at most 200 uploads may wait for a message: 10,000 tiny uploads stop there", async () => {
    const { server, api } = await fresh({ rateLimit: false });
    const user = await api.newUser("many");
    const statuses: number[] = [];
    for (let i = 0; i < 210; i++) statuses.push((await upload(server.url, user.token, `tiny ${i}`, { type: "text/plain" })).status);
    expect(statuses.slice(0, 200).every((s) => s === 201)).toBe(true);
    expect(statuses.slice(200).every((s) => s === 429)).toBe(true);
    expect(await sqlNumber(server, "SELECT count(*) AS n FROM attachments")).toBe(200);
  });
});

describe("what the bytes are", () => {
  test("PNG, JPEG, GIF and WebP are recognised by their bytes, with width and height, whatever the claim", async () => {
    const { alice } = await pair();
    const cases = [
      [pngHead(1, 2), "image/png", 1, 2],
      [jpegHead(300, 200), "image/jpeg", 300, 200],
      [gifHead(17, 9), "image/gif", 17, 9],
      [webpHead(1024, 768), "image/webp", 1024, 768],
    ] as const;
    for (const [bytes, type, width, height] of cases) {
      const res = await upload(server.url, alice.token, bytes, { type: "text/plain", filename: "x" });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ content_type: type, width, height });
    }
  });

  test("a JPEG whose frame header follows 120 KB of EXIF still gets its width and height (read back from the stored file)", async () => {
    const { alice } = await pair();
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 60_000 >> 8, 60_000 & 255]), Buffer.alloc(59_998, 0x45)]);
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8]), app1, app1, jpegHead(640, 480).subarray(2)]);
    const res = await upload(server.url, alice.token, bytes, { type: "image/jpeg", filename: "exif.jpg" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ content_type: "image/jpeg", width: 640, height: 480, size: bytes.byteLength });
  });

  test("a claimed image whose bytes are not one (HTML, SVG) is stored as application/octet-stream and downloads as an attachment", async () => {
    const { alice } = await pair();
    for (const [bytes, claim] of [
      ["<html><script>alert(1)</script></html>", "image/png"],
      ['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"],
    ]) {
      const res = await upload(server.url, alice.token, bytes!, { type: claim, filename: "pic.png" });
      expect(res.status).toBe(201);
      expect(res.body.content_type).toBe("application/octet-stream");
      expect(res.body.width).toBeUndefined();
      const got = await download(server.url, alice.token, res.body.id);
      expect(got.headers.get("content-type")).toBe("application/octet-stream");
      expect(got.headers.get("content-disposition")).toStartWith("attachment;");
    }
    // Another type is kept, but never shown inline.
    const html = await upload(server.url, alice.token, "<html></html>", { type: "text/html" });
    expect(html.body.content_type).toBe("text/html");
    expect((await download(server.url, alice.token, html.body.id)).headers.get("content-disposition")).toStartWith("attachment;");
  });

  test("file names lose paths, NUL, controls and bidi overrides, are cut to 255 characters, and default to 'file'", async () => {
    const { alice } = await pair();
    const cases: [string | undefined, string][] = [
      ["../../etc/passwd", "passwd"],
      ["C:\\Users\\me\\photo.jpg", "photo.jpg"],
      ["invoice\u202Efdp.exe", "invoicefdp.exe"],
      ["a\u0000b\u0007c\u2066d\u2069.txt", "abcd.txt"],
      ["..", "file"],
      [undefined, "file"],
      ["café ☕.txt", "café ☕.txt"],
    ];
    for (const [name, expected] of cases) {
      const res = await upload(server.url, alice.token, unique("name"), { type: "text/plain", ...(name === undefined ? {} : { filename: name }) });
      expect(res.status).toBe(201);
      expect(res.body.filename).toBe(expected);
    }
    const long = await upload(server.url, alice.token, "x", { type: "text/plain", filename: "n".repeat(1000) + ".txt" });
    expect([...long.body.filename]).toHaveLength(255);
    expect(long.body.filename).toEndWith(".txt");
    const multipart = await upload(server.url, alice.token, "x", { multipart: true, filename: "../\u202Eevil.txt" });
    expect(multipart.body.filename).toBe("evil.txt");
    const got = await download(server.url, alice.token, (await upload(server.url, alice.token, "y", { type: "text/plain", filename: "café ☕.txt" })).body.id);
    expect(got.headers.get("content-disposition")).toBe(`attachment; filename="caf_ _.txt"; filename*=UTF-8''caf%C3%A9%20%E2%98%95.txt`);
  });
});

describe("download", () => {
  test("another user's upload, and an id nobody has, are 404", async () => {
    const { alice, bob } = await pair();
    const res = await upload(server.url, alice.token, unique("private"), { type: "text/plain" });
    expectError({ ...(await api.get(`${API}/attachments/${res.body.id}`, bob.token)) }, 404, { code: "not_found" });
    expectError({ ...(await api.get(`${API}/attachments/${randomUuid()}`, alice.token)) }, 404, { code: "not_found" });
  });

  test("ETag and If-None-Match (304), one Range (206), a suffix range, and 416 when unsatisfiable", async () => {
    const { alice } = await pair();
    const text = "0123456789";
    const id = (await upload(server.url, alice.token, text + unique(""), { type: "text/plain" })).body.id;
    const full = await download(server.url, alice.token, id);
    const etag = full.headers.get("etag")!;
    const cached = await download(server.url, alice.token, id, { "if-none-match": etag });
    expect(cached.status).toBe(304);
    expect(cached.bytes.length).toBe(0);
    expect((await download(server.url, alice.token, id, { "if-none-match": '"other"' })).status).toBe(200);
    const part = await download(server.url, alice.token, id, { range: "bytes=2-5" });
    expect(part.status).toBe(206);
    expect(new TextDecoder().decode(part.bytes)).toBe("2345");
    expect(part.headers.get("content-range")).toBe(`bytes 2-5/${full.bytes.length}`);
    const tail = await download(server.url, alice.token, id, { range: "bytes=-3" });
    expect(tail.status).toBe(206);
    expect(Buffer.from(tail.bytes).equals(Buffer.from(full.bytes.subarray(-3)))).toBe(true);
    const open = await download(server.url, alice.token, id, { range: `bytes=${full.bytes.length - 1}-` });
    expect(open.bytes.length).toBe(1);
    const beyond = await download(server.url, alice.token, id, { range: `bytes=${full.bytes.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${full.bytes.length}`);
    // Several ranges: the whole file (a server may ignore Range).
    expect((await download(server.url, alice.token, id, { range: "bytes=0-1,4-5" })).status).toBe(200);
  });

  test("concurrent uploads of the same bytes are stored once, each with its own id", async () => {
    const { alice } = await pair();
    const bytes = new Uint8Array(200_000).map((_, i) => (i * 7 + 3) % 251);
    bytes.set(Buffer.from(randomUuid()));
    const results = await Promise.all(Array.from({ length: 8 }, () => upload(server.url, alice.token, bytes, { type: "application/octet-stream" })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(8);
    const sha = sha256(bytes);
    expect(results.every((r) => r.body.sha256 === sha)).toBe(true);
    expect(filesOnDisk(server.dataDir).filter((f) => f.endsWith(sha))).toHaveLength(1);
    expect(filesOnDisk(server.dataDir).filter((f) => f.startsWith("tmp/"))).toEqual([]);
  });
});

describe("messages with attachments", () => {
  test("a send carries attachment_ids (content may be empty); members can download, others cannot", async () => {
    const { alice, bob, dm } = await pair();
    const carol = await api.newUser("fc");
    const a = await upload(server.url, alice.token, pngHead(3, 4), { type: "image/png", filename: "a.png" });
    const b = await upload(server.url, alice.token, unique("b"), { type: "text/plain", filename: "b.txt" });
    // Before the send, only the uploader sees it.
    expect((await download(server.url, bob.token, a.body.id)).status).toBe(404);
    const sent = await sendWith(alice.token, dm, { content: "", attachment_ids: [b.body.id, a.body.id.toUpperCase()] });
    expect(sent.status).toBe(201);
    expect(sent.body.content).toBe("");
    expect(sent.body.attachments).toEqual([b.body, a.body]);
    const history = await api.get(`${API}/conversations/${dm}/messages`, bob.token);
    expect(history.body.at(-1).attachments).toEqual([b.body, a.body]);
    const list = await api.get(`${API}/conversations`, bob.token);
    expect(list.body.find((c: any) => c.id === dm).last_message.attachments).toEqual([b.body, a.body]);
    expect((await download(server.url, bob.token, a.body.id)).status).toBe(200);
    expect((await download(server.url, carol.token, a.body.id)).status).toBe(404);
    // Without attachments, empty content is still refused.
    expectError(await sendWith(alice.token, dm, { content: " " }), 422, { field: "content" });
  });

  test("attachment_ids must be the sender's, unused, distinct and at most 10 (422 naming the field)", async () => {
    const { alice, bob, dm } = await pair();
    const mine = await upload(server.url, alice.token, unique("mine"), { type: "text/plain" });
    const theirs = await upload(server.url, bob.token, unique("theirs"), { type: "text/plain" });
    expectError(await sendWith(alice.token, dm, { content: "x", attachment_ids: [theirs.body.id] }), 422, { field: "attachment_ids" });
    expectError(await sendWith(alice.token, dm, { content: "x", attachment_ids: [randomUuid()] }), 422, { field: "attachment_ids" });
    expectError(await sendWith(alice.token, dm, { content: "x", attachment_ids: [mine.body.id, mine.body.id] }), 422, { field: "attachment_ids" });
    expectError(await sendWith(alice.token, dm, { content: "x", attachment_ids: Array.from({ length: 11 }, randomUuid) }), 422, { field: "attachment_ids" });
    expectError(await sendWith(alice.token, dm, { content: "x", attachment_ids: ["nope"] }), 422, { field: "attachment_ids" });
    const first = await sendWith(alice.token, dm, { content: "first", attachment_ids: [mine.body.id], client_msg_id: "c1" });
    expect(first.status).toBe(201);
    // A repeat of the same client_msg_id returns the original, attachments included.
    const repeat = await sendWith(alice.token, dm, { content: "first", attachment_ids: [mine.body.id], client_msg_id: "c1" });
    expect(repeat.status).toBe(200);
    expect(repeat.body.attachments).toEqual(first.body.attachments);
    expectError(await sendWith(alice.token, dm, { content: "again", attachment_ids: [mine.body.id] }), 422, { field: "attachment_ids" });
  });

  test("the socket message frame accepts attachment_ids; the ack and the live frame carry the attachments", async () => {
    const { alice, bob, dm } = await pair();
    const file = await upload(server.url, alice.token, gifHead(5, 6), { type: "image/gif", filename: "dance.gif" });
    const a = await connect(server.url, alice.token);
    const b = await connect(server.url, bob.token);
    a.send({ type: "message", conversation_id: dm, attachment_ids: [file.body.id], client_msg_id: "s1" });
    const ack = await a.waitType("message_ack");
    const live = await b.waitType("new_message");
    expect(ack.message.attachments).toEqual([file.body]);
    expect(live.message.attachments).toEqual([file.body]);
    a.send({ type: "message", conversation_id: dm, content: "again", attachment_ids: [file.body.id] });
    const error = await a.waitType("error");
    expect(error.detail).toContain("attachment_ids");
    a.close();
    b.close();
  });
});

test("with --writer-thread the claim runs on the writer thread: attachments sent, a reused one refused with 422", async () => {
  const threaded = await startTestServer({ writerThread: true, rateLimit: false });
  try {
    const api2 = client(threaded.url);
    const a = await api2.newUser("wt");
    const b = await api2.newUser("wt");
    const dm = (await api2.dm(a.token, b.user.id)).body.id;
    const file = await upload(threaded.url, a.token, jpegHead(8, 9), { type: "image/jpeg", filename: "p.jpg" });
    const sent = await api2.request("POST", `${API}/conversations/${dm}/messages`, { token: a.token, body: { content: "pic", attachment_ids: [file.body.id] } });
    expect(sent.status).toBe(201);
    expect(sent.body.attachments).toEqual([file.body]);
    // Two sends racing for one upload: both pass the checks before the commit, one wins the claim.
    const other = await upload(threaded.url, a.token, unique("raced"), { type: "text/plain" });
    const race = await Promise.all(
      [1, 2].map((i) => api2.request("POST", `${API}/conversations/${dm}/messages`, { token: a.token, body: { content: `race ${i}`, attachment_ids: [other.body.id] } })),
    );
    expect(race.map((r) => r.status).sort()).toEqual([201, 422]);
    expectError(race.find((r) => r.status === 422)!, 422, { field: "attachment_ids" });
  } finally {
    await threaded.close();
  }
});

describe("cleaning up", () => {
  test("the sweep deletes unused uploads older than the cutoff, and a blob only when no other upload shares it", async () => {
    const { alice, dm } = await pair();
    const text = unique("sweep");
    const unused = await upload(server.url, alice.token, text, { type: "text/plain" });
    const used = await upload(server.url, alice.token, text, { type: "text/plain" });
    const lonely = await upload(server.url, alice.token, unique("lonely"), { type: "text/plain" });
    expect((await sendWith(alice.token, dm, { content: "keep", attachment_ids: [used.body.id] })).status).toBe(201);
    // A cutoff before they were made sweeps nothing of theirs.
    await sweepUnusedUploads(server.deps, Date.parse(unused.body.created_at) - 1, filesDirOf(server.dataDir));
    expect((await download(server.url, alice.token, unused.body.id)).status).toBe(200);
    expect(await sweepUnusedUploads(server.deps, Date.now() + 1, filesDirOf(server.dataDir))).toBeGreaterThanOrEqual(2);
    expect((await download(server.url, alice.token, unused.body.id)).status).toBe(404);
    expect((await download(server.url, alice.token, lonely.body.id)).status).toBe(404);
    expect((await download(server.url, alice.token, used.body.id)).status).toBe(200);
    expect(await Bun.file(blobOf(server.dataDir, sha256(text))).exists()).toBe(true);
    expect(await Bun.file(blobOf(server.dataDir, lonely.body.sha256)).exists()).toBe(false);
  });

  test("the server sweeps on its own timer after --unused-upload-ttl", async () => {
    const fresh = await startTestServer({ unusedUploadTtlSeconds: 1, rateLimit: false });
    try {
      const user = await client(fresh.url).newUser("ttl");
      const res = await upload(fresh.url, user.token, "short-lived", { type: "text/plain" });
      const row = () => sqlNumber(fresh, "SELECT count(*) AS n FROM attachments WHERE id = ?", res.body.id);
      expect(await row()).toBe(1);
      for (let i = 0; i < 100 && (await row()); i++) await Bun.sleep(100);
      expect(await row()).toBe(0);
      expect(filesOnDisk(fresh.dataDir)).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  test("releaseAttachments (a deleted message) removes its attachments and their blobs", async () => {
    const { alice, bob, dm } = await pair();
    const file = await upload(server.url, alice.token, unique("to delete"), { type: "text/plain" });
    const sent = await sendWith(alice.token, dm, { content: "bye", attachment_ids: [file.body.id] });
    expect((await download(server.url, bob.token, file.body.id)).status).toBe(200);
    expect(await releaseAttachments(server.deps, sent.body.id, filesDirOf(server.dataDir))).toBe(1);
    expect(await releaseAttachments(server.deps, sent.body.id, filesDirOf(server.dataDir))).toBe(0);
    expect((await download(server.url, bob.token, file.body.id)).status).toBe(404);
    expect((await download(server.url, alice.token, file.body.id)).status).toBe(404);
    expect(await Bun.file(blobOf(server.dataDir, file.body.sha256)).exists()).toBe(false);
    expect(await sqlNumber(server, "SELECT count(*) AS n FROM message_attachments WHERE message_id = ?", sent.body.id)).toBe(0);
  });

  test("DELETE /messages/{id}: the tombstone shows no attachments and the file is gone for everyone", async () => {
    const { alice, bob, dm } = await pair();
    const file = await upload(server.url, alice.token, unique("deleted with its message"), { type: "text/plain" });
    const sent = await sendWith(alice.token, dm, { content: "with a file", attachment_ids: [file.body.id] });
    expect(sent.body.attachments).toHaveLength(1);
    expect((await api.request("DELETE", `${API}/messages/${sent.body.id}`, { token: alice.token })).status).toBe(204);
    expect((await download(server.url, bob.token, file.body.id)).status).toBe(404);
    expect((await download(server.url, alice.token, file.body.id)).status).toBe(404);
    expect(await Bun.file(blobOf(server.dataDir, file.body.sha256)).exists()).toBe(false);
    const page = await api.get(`${API}/conversations/${dm}/messages`, bob.token);
    expect(page.body.find((m: any) => m.id === sent.body.id)).toMatchObject({ content: "", attachments: [], deleted_at: expect.any(String) });
  });
});

describe("a group deleted by its last member leaving", () => {
  const fresh = freshServers();
  const leave = (api: Api, token: string, id: string, userId: string) => api.request("DELETE", `${API}/conversations/${id}/members/${userId}`, { token });

  test("takes its messages' files: 404 for the uploader, the blob deleted, the quota free again", async () => {
    const { server, api } = await fresh({ uploadQuotaBytes: 100, rateLimit: false });
    const [alice, bob] = [await api.newUser("ga"), await api.newUser("gb")];
    const group = (await api.group(alice.token, "short-lived", [bob.user.id])).body.id as string;
    const file = await upload(server.url, alice.token, "g".repeat(60), { type: "text/plain" });
    const second = await upload(server.url, bob.token, unique("bob's"), { type: "text/plain" });
    const send = (token: string, body: Record<string, unknown>) => api.request("POST", `${API}/conversations/${group}/messages`, { token, body });
    expect((await send(alice.token, { content: "", attachment_ids: [file.body.id] })).status).toBe(201);
    expect((await send(bob.token, { content: "mine", attachment_ids: [second.body.id] })).status).toBe(201);
    expectError((await upload(server.url, alice.token, "h".repeat(60), { type: "text/plain" })) as any, 413, { code: "quota_exceeded" });
    expect((await leave(api, bob.token, group, bob.user.id)).status).toBe(204);
    expect((await download(server.url, alice.token, file.body.id)).status).toBe(200);
    expect((await leave(api, alice.token, group, alice.user.id)).status).toBe(204);
    expect((await download(server.url, alice.token, file.body.id)).status).toBe(404);
    expect((await download(server.url, bob.token, second.body.id)).status).toBe(404);
    expect(await sqlNumber(server, "SELECT count(*) AS n FROM attachments")).toBe(0);
    expect(filesOnDisk(server.dataDir)).toEqual([]);
    expect((await upload(server.url, alice.token, "h".repeat(60), { type: "text/plain" })).status).toBe(201);
  });

  test("keeps a blob another upload of the same bytes still names, and that upload stays readable", async () => {
    const { alice, bob, dm } = await pair();
    const text = unique("shared bytes");
    const group = (await api.group(alice.token, "g", [bob.user.id])).body.id as string;
    const inGroup = await upload(server.url, alice.token, text, { type: "text/plain" });
    const inDm = await upload(server.url, bob.token, text, { type: "text/plain" });
    const lonely = await upload(server.url, alice.token, unique("only in the group"), { type: "text/plain" });
    expect((await sendWith(alice.token, group, { content: "two", attachment_ids: [inGroup.body.id, lonely.body.id] })).status).toBe(201);
    expect((await sendWith(bob.token, dm, { content: "same bytes", attachment_ids: [inDm.body.id] })).status).toBe(201);
    expect((await leave(api, alice.token, group, alice.user.id)).status).toBe(204);
    expect((await leave(api, bob.token, group, bob.user.id)).status).toBe(204);
    expect((await download(server.url, alice.token, inGroup.body.id)).status).toBe(404);
    expect((await download(server.url, alice.token, lonely.body.id)).status).toBe(404);
    expect(await Bun.file(blobOf(server.dataDir, lonely.body.sha256)).exists()).toBe(false);
    expect(await Bun.file(blobOf(server.dataDir, sha256(text))).exists()).toBe(true);
    const kept = await download(server.url, alice.token, inDm.body.id);
    expect(kept.status).toBe(200);
    expect(new TextDecoder().decode(kept.bytes)).toBe(text);
  });
});

test("a JSON file downloads as a file: its own headers, ranges, and never recompressed", async () => {
  const { alice } = await pair();
  const json = JSON.stringify({ big: "x".repeat(5000), tag: randomUuid() });
  const id = (await upload(server.url, alice.token, json, { type: "application/json", filename: "data.json" })).body.id;
  const got = await download(server.url, alice.token, id, { "accept-encoding": "gzip, br", range: "bytes=0-9" });
  expect(got.status).toBe(206);
  expect(got.headers.get("content-encoding")).toBeNull();
  expect(got.headers.get("content-security-policy")).toContain("sandbox");
  expect(new TextDecoder().decode(got.bytes)).toBe(json.slice(0, 10));
});

test("/openapi.json documents the upload (both body forms) and the download", async () => {
  const doc = (await api.get("/openapi.json")).body;
  const upload = doc.paths[`${API}/attachments`].post;
  expect(Object.keys(upload.requestBody.content).sort()).toEqual(["application/octet-stream", "multipart/form-data"]);
  expect(upload.responses["201"]).toBeDefined();
  expect(upload.description).toContain("413");
  const get = doc.paths[`${API}/attachments/{attachment_id}`].get;
  expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(["200", "206", "304", "404", "416"]));
  expect(doc.paths[`${API}/conversations/{conversation_id}/messages`].post.requestBody.content["application/json"].schema.properties.attachment_ids).toBeDefined();
});
