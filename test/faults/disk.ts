// A small real file system for fault tests: a tmpfs of a few MiB (needs root and mount), filled
// to the last byte with a ballast file and freed again. Tests skip, saying why, where mounting is
// not possible; they never fail for that reason.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk {
  dir: string;
  /** Writes a ballast file until the file system refuses (ENOSPC) or `maxBytes` are written; returns its size. */
  fill(maxBytes?: number): number;
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
    fill(maxBytes = Infinity) {
      const fd = openSync(ballast, "a");
      const chunk = new Uint8Array(4096).fill(1);
      let written = 0;
      try {
        while (written < maxBytes) written += writeSync(fd, chunk);
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

export interface FreezableDisk {
  dir: string;
  /** Freezes the file system (every write waits); a watchdog thaws it after `maxMs` whatever happens. */
  freeze(maxMs: number): void;
  thaw(): void;
  unmount(): void;
}

/** Mounts a small ext4 image on a loop device so `fsfreeze` can stall it, or returns why it cannot. */
export function mountFreezableDisk(): FreezableDisk | string {
  if (process.platform !== "linux") return `fault tests need Linux (platform ${process.platform})`;
  const root = mkdtempSync(join(tmpdir(), "chat-freeze-"));
  const image = join(root, "disk.img");
  const dir = join(root, "mnt");
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { stderr: "pipe", stdout: "pipe" });
  const steps = [
    ["truncate", "-s", "64M", image],
    ["mkfs.ext4", "-q", "-F", image],
    ["mkdir", "-p", dir],
    ["mount", "-o", "loop", image, dir],
    ["fsfreeze", "--help"],
  ];
  for (const step of steps) {
    let result;
    try {
      result = run(step);
    } catch (error) {
      rmSync(root, { recursive: true, force: true });
      return `cannot run ${step[0]}: ${String(error)}`;
    }
    if (result.exitCode !== 0) {
      if (step[0] === "fsfreeze") run(["umount", dir]);
      rmSync(root, { recursive: true, force: true });
      return `cannot ${step.join(" ")} (needs root, loop devices and util-linux): ${result.stderr.toString().trim() || `exit ${result.exitCode}`}`;
    }
  }
  let watchdog: ReturnType<typeof Bun.spawn> | null = null;
  const thaw = () => {
    run(["fsfreeze", "-u", dir]);
    watchdog?.kill();
    watchdog = null;
  };
  return {
    dir,
    freeze(maxMs) {
      // A separate process, so even a hung test cannot leave the file system frozen.
      watchdog = Bun.spawn(["sh", "-c", `sleep ${Math.ceil(maxMs / 1000)}; fsfreeze -u '${dir}'`], { stdout: "ignore", stderr: "ignore" });
      const frozen = run(["fsfreeze", "-f", dir]);
      if (frozen.exitCode !== 0) throw new Error(`fsfreeze -f failed: ${frozen.stderr.toString()}`);
    },
    thaw,
    unmount() {
      thaw();
      run(["umount", "-l", dir]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
