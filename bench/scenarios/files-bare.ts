// W11's same-run baseline for memory: a bare Bun.serve (bench/upload-memory-server.ts, mode "drop":
// each body read with a reader, its chunks dropped) pinned like our server and sent the same uploads
// the same way. What it grows by is Bun's own cost of taking those bodies (per-chunk buffers waiting
// for the garbage collector, its unpaused socket reads), the floor under our figure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeFiles, watched } from "../lib/uploads";
import { BUN, freePort, memory, pinnedCommand, SERVER_CORE, spawnProc, waitReady } from "../lib/util";

export interface BareGrowth {
  rss_before_bytes: number;
  rss_peak_during_uploads_bytes: number;
  /** The worst round's (peak − before) / concurrent uploads, as for our server. */
  rss_growth_per_upload_bytes: number;
  failed: number;
}

export async function bareUploadGrowth(size: number, concurrency: number, rounds: number): Promise<BareGrowth> {
  const dir = mkdtempSync(join(tmpdir(), "bench-w11-bare-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/upload`;
  const proc = spawnProc(pinnedCommand([BUN, join(import.meta.dir, "..", "upload-memory-server.ts"), "drop", dir, String(port)], SERVER_CORE));
  let failed = 0;
  const upload = async (bytes: Uint8Array<ArrayBuffer>) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes });
    await res.arrayBuffer();
    if (res.status !== 201) failed++;
  };
  try {
    await waitReady(`http://127.0.0.1:${port}/__mem`, proc);
    await upload(new TextEncoder().encode("warm-up"));
    let worst: BareGrowth | null = null;
    for (let r = 0; r < rounds; r++) {
      const files = makeFiles(concurrency, size, r);
      const before = memory(proc.pid).rss;
      const up = await watched(proc.pid, () => Promise.all(files.map(upload)));
      const growth = Math.max(0, up.peakRss - before) / concurrency;
      if (!worst || growth > worst.rss_growth_per_upload_bytes) {
        worst = { rss_before_bytes: before, rss_peak_during_uploads_bytes: up.peakRss, rss_growth_per_upload_bytes: growth, failed: 0 };
      }
    }
    return { ...worst!, failed };
  } finally {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
