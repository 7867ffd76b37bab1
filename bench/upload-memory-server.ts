// The server side of bench/upload-memory.ts: one process receiving uploads in one way, so its RSS
// says what that way costs. `bun bench/upload-memory-server.ts <mode> <dir>` prints one JSON line
// {"port", "memPort"} when ready. Modes:
//   drop            Bun.serve, request.body read with a default reader, chunks dropped
//   filesink        chunks written with Bun.file().writer(), never awaited (end() at the end)
//   filesink-flush  the same, awaiting flush() after every write
//   fswrite         chunks written with fs/promises FileHandle.write, awaited (as store.ts did)
//   fswrite-sync    chunks written with fs.writeSync
// UPLOAD_GC_EVERY_MIB=n (bare modes): Bun.gc(false) after every n MiB received, to see how much of
// the growth is chunks waiting for the garbage collector.
//   ours            the real server (startServer) on a fresh data directory; from the checkout at
//                   UPLOAD_SERVER_ROOT when set (another commit, for a before/after in one run)
// GET /__mem on memPort (?gc=1 runs Bun.gc(true) first) answers RSS, the JS heap and the
// ArrayBuffer bytes; bare modes answer the received chunk sizes too.
import { heapStats } from "bun:jsc";
import { closeSync, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

const [mode = "drop", dir = "/tmp", port = "0"] = process.argv.slice(2);
const MiB = 2 ** 20;
const stats = { uploads: 0, chunks: 0, maxChunk: 0, bytes: 0 };

function memory(gc: boolean) {
  if (gc) Bun.gc(true);
  const usage = process.memoryUsage();
  const heap = heapStats();
  return {
    ...stats,
    rss: usage.rss,
    heapSize: heap.heapSize,
    heapCapacity: heap.heapCapacity,
    extraMemorySize: heap.extraMemorySize,
    arrayBuffers: usage.arrayBuffers,
  };
}

const gcEvery = Number(process.env.UPLOAD_GC_EVERY_MIB ?? 0) * MiB;
let sinceGc = 0;
const count = (n: number) => {
  if (gcEvery && (sinceGc += n) >= gcEvery) {
    sinceGc = 0;
    Bun.gc(process.env.UPLOAD_GC_FULL === "1");
  }
  stats.chunks++;
  stats.bytes += n;
  stats.maxChunk = Math.max(stats.maxChunk, n);
};

async function* defaultChunks(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

let files = 0;
async function receive(request: Request): Promise<Response> {
  const body = request.body!;
  const path = join(dir, `upload-${files++}.part`);
  if (mode === "drop") for await (const c of defaultChunks(body)) count(c.byteLength);
  else if (mode === "filesink" || mode === "filesink-flush") {
    const writer = Bun.file(path).writer();
    for await (const c of defaultChunks(body)) {
      count(c.byteLength);
      writer.write(c);
      if (mode === "filesink-flush") await writer.flush();
    }
    await writer.end();
  } else if (mode === "fswrite") {
    const handle = await open(path, "w");
    for await (const c of defaultChunks(body)) {
      count(c.byteLength);
      await handle.write(c);
    }
    await handle.close();
  } else if (mode === "fswrite-sync") {
    const fd = openSync(path, "w");
    for await (const c of defaultChunks(body)) {
      count(c.byteLength);
      for (let at = 0; at < c.byteLength;) at += writeSync(fd, c, at, c.byteLength - at);
    }
    closeSync(fd);
  } else throw new Error(`unknown mode ${mode}`);
  stats.uploads++;
  return Response.json({ ok: true }, { status: 201 });
}

const memServer = (port: number) =>
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    maxRequestBodySize: 200 * MiB,
    fetch: (request) => (new URL(request.url).pathname === "/__mem" ? Response.json(memory(new URL(request.url).searchParams.has("gc"))) : receive(request)),
  });

if (mode === "ours") {
  const root = process.env.UPLOAD_SERVER_ROOT ?? join(import.meta.dir, "..");
  const { loadConfig } = await import(join(root, "src/config"));
  const { silentLogger } = await import(join(root, "src/lib/logger"));
  const { startServer } = await import(join(root, "src/server"));
  const config = {
    ...loadConfig([], {}),
    port: 0,
    host: "127.0.0.1",
    dataDir: join(dir, "data"),
    logLevel: "silent" as const,
    rateLimit: false,
    uploadQuotaBytes: 2 ** 40,
  };
  const running = await startServer(config, silentLogger);
  const mem = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request) => Response.json(memory(new URL(request.url).searchParams.has("gc"))),
  });
  console.log(JSON.stringify({ port: running.port, memPort: mem.port }));
} else {
  const server = memServer(Number(port));
  console.log(JSON.stringify({ port: server.port, memPort: server.port }));
}
