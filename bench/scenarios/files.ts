// W11 files (issue 14, "Performance"): `concurrency` uploads of `size` bytes at once (raw body,
// POST /api/v1/attachments?filename=) then the same files downloaded at once, against our binary on
// its own data dir. MiB/s is compared with a same-run baseline: this process copying the same bytes
// with Bun.write / Bun.file into the same directory (what the disk and page cache allow without HTTP,
// hashing or the database). The server's RSS is read from /proc before and every 20 ms during the
// uploads: its growth per concurrent upload shows whether bodies are streamed or buffered (goal ≤ 2
// MiB), beside a bare Bun.serve taking the same uploads in the same run (scenarios/files-bare.ts);
// bench/upload-memory.ts takes that growth apart. Every download is checked byte for byte by SHA-256;
// failures are errors, timings never are.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUsers } from "../lib/api";
import { freePort, GENERATOR_CORE, log, memory, pin, pinnedCommand, round, SERVER_CORE, spawnProc, unpin, waitReady } from "../lib/util";
import { makeFiles, sha256, watched } from "../lib/uploads";
import { bareUploadGrowth } from "./files-bare";
import { serverCommand } from "./startup";

export interface W11Params {
  size: number;
  concurrency: number;
  rounds: number;
}

const MiB = 2 ** 20;
/** One round's figures (an identity function that names the type). */
const roundFigures = (f: {
  upload_mib_per_s: number | null;
  download_mib_per_s: number | null;
  bun_write_mib_per_s: number | null;
  bun_file_mib_per_s: number | null;
  upload_ms: number | null;
  download_ms: number | null;
  rss_before_bytes: number;
  rss_peak_during_uploads_bytes: number;
  rss_after_uploads_bytes: number;
  rss_peak_during_downloads_bytes: number;
  rss_growth_per_upload_bytes: number;
  vm_hwm_after_bytes: number;
}) => f;

const mibPerS = (bytes: number, ms: number) => round(bytes / MiB / (ms / 1000), 1);

export async function filesBench(binary: string, p: W11Params) {
  const dir = mkdtempSync(join(tmpdir(), "bench-w11-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const quota = String(Math.max(2 ** 30, 2 * p.size * p.concurrency * (p.rounds + 1)));
  const limit = String(Math.max(p.size, 26_214_400));
  const proc = spawnProc(pinnedCommand(serverCommand(binary, join(dir, "data"), port, ["--max-upload-bytes", limit, "--upload-quota-bytes", quota]), SERVER_CORE));
  const errors: string[] = [];
  const fail = (msg: string) => {
    errors.push(msg);
    if (errors.length <= 3) log(`  W11 error: ${msg}`);
  };
  try {
    await waitReady(`${base}/health`, proc);
    const [user] = await createUsers(base, 1, `w11${Date.now().toString(36)}`, 1);
    const auth = { authorization: `Bearer ${user!.token}` };
    const upload = async (bytes: Uint8Array<ArrayBuffer>, name: string): Promise<string | null> => {
      const res = await fetch(`${base}/api/v1/attachments?filename=${name}`, { method: "POST", headers: { ...auth, "content-type": "application/octet-stream" }, body: bytes });
      const text = await res.text();
      if (res.status !== 201 && res.status !== 200) return fail(`upload ${name}: ${res.status} ${text.slice(0, 200)}`), null;
      const view = JSON.parse(text) as { id: string; sha256: string; size: number };
      if (view.size !== bytes.byteLength) fail(`upload ${name}: size ${view.size}, sent ${bytes.byteLength}`);
      return view.id;
    };
    const download = async (id: string): Promise<ArrayBuffer | null> => {
      const res = await fetch(`${base}/api/v1/attachments/${id}`, { headers: { ...auth, "accept-encoding": "identity" } });
      const body = await res.arrayBuffer();
      if (res.status !== 200) return fail(`download ${id}: ${res.status} ${new TextDecoder().decode(body.slice(0, 200))}`), null;
      return body;
    };
    // Warm-up: the first upload and download pay for lazy start-up work (statements, directories).
    const warm = await upload(new TextEncoder().encode("warm-up"), "warm.bin");
    if (warm) await download(warm);

    pin(process.pid, GENERATOR_CORE);
    const rounds: ReturnType<typeof roundFigures>[] = [];
    for (let r = 0; r < p.rounds; r++) {
      const files = makeFiles(p.concurrency, p.size, r);
      const hashes = files.map(sha256);
      const total = p.size * p.concurrency;
      const before = memory(proc.pid);
      const up = await watched(proc.pid, () => Promise.all(files.map((f, i) => upload(f, `w11-${r}-${i}.bin`))));
      const afterUpload = memory(proc.pid);
      const ids = up.value;
      const down = await watched(proc.pid, () => Promise.all(ids.map((id) => (id ? download(id) : Promise.resolve(null)))));
      down.value.forEach((body, i) => {
        if (body && sha256(body) !== hashes[i]) fail(`download of w11-${r}-${i}.bin: sha256 differs from the uploaded bytes (${body.byteLength} bytes back)`);
      });
      // The baseline: the same bytes through Bun.write and Bun.file in the same directory, same concurrency.
      const copies = files.map((_, i) => join(dir, `copy-${r}-${i}.bin`));
      let t0 = performance.now();
      await Promise.all(files.map((f, i) => Bun.write(copies[i]!, f)));
      const writeMs = performance.now() - t0;
      t0 = performance.now();
      const back = await Promise.all(copies.map((c) => Bun.file(c).arrayBuffer()));
      const readMs = performance.now() - t0;
      if (back.some((b, i) => sha256(b) !== hashes[i])) fail("baseline copy read back differs (disk problem?)");
      for (const c of copies) rmSync(c, { force: true });
      const step = roundFigures({
        upload_mib_per_s: mibPerS(total, up.ms),
        download_mib_per_s: mibPerS(total, down.ms),
        bun_write_mib_per_s: mibPerS(total, writeMs),
        bun_file_mib_per_s: mibPerS(total, readMs),
        upload_ms: round(up.ms, 1),
        download_ms: round(down.ms, 1),
        rss_before_bytes: before.rss,
        rss_peak_during_uploads_bytes: up.peakRss,
        rss_after_uploads_bytes: afterUpload.rss,
        rss_peak_during_downloads_bytes: down.peakRss,
        rss_growth_per_upload_bytes: Math.max(0, up.peakRss - before.rss) / p.concurrency,
        vm_hwm_after_bytes: afterUpload.peak,
      });
      rounds.push(step);
      log(
        `  W11 round ${r + 1}: upload ${step.upload_mib_per_s} MiB/s (Bun.write ${step.bun_write_mib_per_s}), download ${step.download_mib_per_s} MiB/s (Bun.file ${step.bun_file_mib_per_s}), RSS ${(before.rss / MiB).toFixed(1)} → peak ${(up.peakRss / MiB).toFixed(1)} MiB`,
      );
    }
    // The same uploads into a bare Bun.serve, pinned the same way: Bun's own share of the growth.
    const bare = await bareUploadGrowth(p.size, p.concurrency, p.rounds);
    if (bare.failed) fail(`bare Bun.serve baseline: ${bare.failed} uploads failed`);
    log(`  W11 bare Bun.serve, same uploads: RSS ${(bare.rss_before_bytes / MiB).toFixed(1)} → peak ${(bare.rss_peak_during_uploads_bytes / MiB).toFixed(1)} MiB`);
    unpin(process.pid);
    const median = (pick: (s: (typeof rounds)[number]) => number | null) => {
      const v = rounds.map(pick).filter((x): x is number => x !== null).sort((a, b) => a - b);
      return v.length ? v[Math.floor(v.length / 2)]! : null;
    };
    // The worst round; the first usually, as a later one may reuse memory the server kept from it.
    const worst = rounds.reduce((a, b) => (b.rss_growth_per_upload_bytes > a.rss_growth_per_upload_bytes ? b : a));
    return {
      size_bytes: p.size,
      concurrency: p.concurrency,
      rounds: p.rounds,
      upload_mib_per_s: median((s) => s.upload_mib_per_s),
      download_mib_per_s: median((s) => s.download_mib_per_s),
      bun_write_mib_per_s: median((s) => s.bun_write_mib_per_s),
      bun_file_mib_per_s: median((s) => s.bun_file_mib_per_s),
      // Read just before each round's uploads: the sign-up before them (argon2) briefly holds tens of
      // MiB that the server then returns, so an earlier reading would hide the uploads' cost.
      rss_before_bytes: worst.rss_before_bytes,
      rss_peak_during_uploads_bytes: worst.rss_peak_during_uploads_bytes,
      rss_growth_per_upload_bytes: worst.rss_growth_per_upload_bytes,
      vm_hwm_end_bytes: memory(proc.pid).peak,
      bare,
      steps: rounds,
      errors: errors.length,
      first_errors: errors.slice(0, 3),
    };
  } finally {
    unpin(process.pid);
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
