// The server's timer that deletes uploads no message took within --unused-upload-ttl (24 h by
// default), and their blobs once no other upload shares them.
import type { Logger } from "../../lib/logger";
import { now } from "../../lib/time";
import type { Storage } from "../../ports/stores";
import { sweepUnusedUploads } from "./service";

/** Sweeps every ttl/4 (between 1 s and 15 min), so an upload outlives its ttl by a quarter at most. */
export function startUploadSweeper(
  storage: Storage,
  filesDir: string,
  ttlSeconds: number,
  log: Pick<Logger, "info" | "warn">,
  /** StorageHealth.writesWait: a sweep waits for a stalled disk rather than block the loop. */
  writesWait: () => Promise<void> | null = () => null,
): () => void {
  const ttlMs = ttlSeconds * 1000;
  const every = Math.min(15 * 60_000, Math.max(1000, ttlMs / 4));
  const timer = setInterval(async () => {
    try {
      await writesWait();
      const removed = await sweepUnusedUploads(storage, now() - ttlMs, filesDir);
      if (removed > 0) log.info("swept unused uploads", { removed });
    } catch (error) {
      log.warn("sweeping unused uploads failed", { error: String(error) });
    }
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
