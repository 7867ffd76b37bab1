// A small real file system for fault tests: a tmpfs of a few MiB (needs root and mount), filled
// to the last byte with a ballast file and freed again. Tests skip, saying why, where mounting is
// not possible; they never fail for that reason.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk {
  dir: string;
  /** Writes a ballast file until the file system refuses (ENOSPC); returns its size. */
  fill(): number;
  /** Deletes the ballast. */
  free(): void;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (e.g. "4m"), or returns why it cannot. */
export function mountSmallDisk(size: string): SmallDisk | string {
  if (process.platform !== "linux") return `fault tests need Linux tmpfs (platform ${process.platform})`;
  const dir = mkdtempSync(join(tmpdir(), "chat-disk-"));
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stderr: "pipe" });
  if (mount.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs (needs root): ${mount.stderr.toString().trim() || `exit ${mount.exitCode}`}`;
  }
  const ballast = join(dir, "ballast");
  return {
    dir,
    fill() {
      const fd = openSync(ballast, "a");
      const chunk = new Uint8Array(4096).fill(1);
      let written = 0;
      try {
        for (;;) written += writeSync(fd, chunk);
      } catch {
        // ENOSPC: full.
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free: () => rmSync(ballast, { force: true }),
    unmount() {
      Bun.spawnSync(["umount", "-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
