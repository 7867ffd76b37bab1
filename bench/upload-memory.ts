// Where an upload's memory goes (issue 14, W11's RSS per concurrent upload). For each receiving mode
// of bench/upload-memory-server.ts (a bare Bun.serve dropping the body, writing it with a FileSink or
// fs/promises, our upload route) and each concurrency N, a fresh server process takes N uploads at
// once from raw-socket senders paced to --rate MiB/s each (so they really are concurrent; 0 = as fast
// as the socket takes them), and its RSS is read from /proc before, every 10 ms during, right after,
// after Bun.gc(true), and 2 s later. Not part of the test suite; figures only, nothing asserted.
//   bun bench/upload-memory.ts [--modes drop,fswrite,ours] [--n 1,10,50] [--size-mib 25] [--rate 4]
//     [--base /path/to/other/checkout] [--repeat 2]
// --base adds the mode "base": our route from that checkout (e.g. `git archive main`), measured
// alternately with the others in the same run, as this machine's load moves from minute to minute.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, createUsers } from "./lib/api";
import { cpuSeconds, memory, sleep } from "./lib/util";

const MiB = 2 ** 20;
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const modes = arg("modes", "drop,filesink,filesink-flush,fswrite,ours").split(",");
const counts = arg("n", "1,10,50").split(",").map(Number);
const size = Math.round(Number(arg("size-mib", "25")) * MiB);
const ratePerSender = Number(arg("rate", "4")) * MiB;
const base = arg("base", "");
const repeat = Number(arg("repeat", "1"));
if (base) modes.push("base");
const CHUNK = 64 * 1024;

const rssOf = (pid: number) => memory(pid).rss;
const fmt = (bytes: number) => (bytes / MiB).toFixed(1);

const block = crypto.getRandomValues(new Uint8Array(CHUNK));

/** One upload over its own socket: headers with Content-Length, the body in 64 KiB writes at `rate` B/s; resolves to the status. */
function upload(port: number, path: string, headers: Record<string, string>, index: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let response = "";
    socket.on("data", (d) => (response += d.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1] ?? 0)));
    socket.on("connect", async () => {
      const head = Object.entries({
        host: "127.0.0.1",
        "content-length": String(size),
        "content-type": "application/octet-stream",
        connection: "close",
        ...headers,
      })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
      const first = block.slice();
      first[0] = index & 0xff; // distinct bytes per upload, so none is stored once for another
      first[1] = (index >> 8) & 0xff;
      first[2] = Date.now() & 0xff;
      const start = performance.now();
      for (let sent = 0; sent < size;) {
        const n = Math.min(CHUNK, size - sent);
        const chunk = sent === 0 ? first.subarray(0, n) : block.subarray(0, n);
        if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
        sent += n;
        if (ratePerSender > 0) {
          const due = start + (sent / ratePerSender) * 1000;
          const wait = due - performance.now();
          if (wait > 1) await sleep(wait);
        }
      }
    });
  });
}

async function startServer(mode: string, dir: string) {
  const env = mode === "base" ? { ...process.env, UPLOAD_SERVER_ROOT: base } : process.env;
  const serverMode = mode === "base" ? "ours" : mode;
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "upload-memory-server.ts"), serverMode, dir], { stdout: "pipe", stderr: "inherit", env });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server ${mode} exited before it was ready`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const { port, memPort } = JSON.parse(text.split("\n")[0]!) as {
    port: number;
    memPort: number;
  };
  return { proc, port, memPort };
}

async function measure(mode: string, n: number) {
  const dir = mkdtempSync(join(tmpdir(), "upload-mem-"));
  const { proc, port, memPort } = await startServer(mode, dir);
  try {
    const mem = async (gc: boolean) => (await fetch(`http://127.0.0.1:${memPort}/__mem${gc ? "?gc=1" : ""}`)).json() as Promise<Record<string, number>>;
    let path = "/upload";
    let headers: Record<string, string> = {};
    if (mode === "ours" || mode === "base") {
      const [user] = await createUsers(`http://127.0.0.1:${port}`, 1, `m${Date.now().toString(36)}`, 1);
      path = "/api/v1/attachments?filename=f.bin";
      headers = { authorization: `Bearer ${user!.token}` };
      // Warm-up: the route's first use (statements, directories) is not what is measured.
      await call(`http://127.0.0.1:${port}`, "GET", "/health");
    }
    const warm = await upload(port, path, headers, 65535);
    if (warm !== 201) throw new Error(`warm-up upload: ${warm}`);
    const before = await mem(true);
    const rssBefore = rssOf(proc.pid);
    let peak = rssBefore;
    const poll = setInterval(() => (peak = Math.max(peak, rssOf(proc.pid))), 10);
    const cpu0 = cpuSeconds(proc.pid);
    const t0 = performance.now();
    const statuses = await Promise.all(Array.from({ length: n }, (_, i) => upload(port, path, headers, i)));
    const ms = performance.now() - t0;
    const cpu = cpuSeconds(proc.pid) - cpu0;
    clearInterval(poll);
    peak = Math.max(peak, rssOf(proc.pid));
    const rssAfter = rssOf(proc.pid);
    const afterNoGc = await mem(false);
    const afterGc = await mem(true);
    const rssAfterGc = rssOf(proc.pid);
    await sleep(2000);
    const rssLater = rssOf(proc.pid);
    const failed = statuses.filter((s) => s !== 201).length;
    return {
      mode,
      n,
      cpu_s: cpu,
      mib_per_s: Number(((n * size) / MiB / (ms / 1000)).toFixed(1)),
      rss_before: rssBefore,
      rss_peak: peak,
      rss_after: rssAfter,
      rss_after_gc: rssAfterGc,
      rss_2s_later: rssLater,
      growth_per_upload: (peak - rssBefore) / n,
      array_buffers_after: afterNoGc.arrayBuffers!,
      heap_after: afterNoGc.heapSize!,
      extra_after: afterNoGc.extraMemorySize!,
      array_buffers_after_gc: afterGc.arrayBuffers!,
      max_chunk: afterGc.maxChunk,
      mean_chunk: afterGc.chunks ? Math.round(afterGc.bytes! / afterGc.chunks) : undefined,
      before_heap: before.heapSize!,
      failed,
    };
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`uploads of ${fmt(size)} MiB, senders paced to ${ratePerSender ? `${fmt(ratePerSender)} MiB/s each` : "socket speed"}; MiB unless said`);
console.log("mode            N   MiB/s  CPU s  RSS before  peak   after  after-gc  +2s   per-upload  ArrayBuffers after/after-gc  chunk max/mean KiB  failed");
for (let i = 0; i < repeat; i++) {
  for (const n of counts) {
    for (const mode of modes) {
      const r = await measure(mode, n);
      console.log(
        [
          r.mode.padEnd(15),
          String(r.n).padStart(2),
          String(r.mib_per_s).padStart(7),
          r.cpu_s.toFixed(2).padStart(6),
          fmt(r.rss_before).padStart(11),
          fmt(r.rss_peak).padStart(6),
          fmt(r.rss_after).padStart(7),
          fmt(r.rss_after_gc).padStart(9),
          fmt(r.rss_2s_later).padStart(5),
          fmt(r.growth_per_upload).padStart(12),
          `${fmt(r.array_buffers_after)}/${fmt(r.array_buffers_after_gc)}`.padStart(28),
          (r.max_chunk !== undefined ? `${(r.max_chunk / 1024).toFixed(0)}/${((r.mean_chunk ?? 0) / 1024).toFixed(0)}` : "—").padStart(19),
          String(r.failed).padStart(7),
        ].join(" "),
      );
    }
  }
}
