// A small real file system for fault tests: a tmpfs of a few MiB (needs root and mount), filled
// to the last byte with a ballast file and freed again. Tests skip, saying why, where mounting is
// not possible; they never fail for that reason.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
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

interface LoopDisk {
  root: string;
  image: string;
  dir: string;
  run(cmd: string[]): { exitCode: number; stdout: Buffer; stderr: Buffer };
}

/** Mounts a small ext4 image on a loop device (needs root, loop devices, e2fsprogs and `tool`), or returns why it cannot. */
function mountLoopExt4(options: string, tool: string[]): LoopDisk | string {
  if (process.platform !== "linux") return `fault tests need Linux (platform ${process.platform})`;
  const root = mkdtempSync(join(tmpdir(), "chat-loop-"));
  const image = join(root, "disk.img");
  const dir = join(root, "mnt");
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { stderr: "pipe", stdout: "pipe" }) as { exitCode: number; stdout: Buffer; stderr: Buffer };
  const steps = [["truncate", "-s", "64M", image], ["mkfs.ext4", "-q", "-F", image], ["mkdir", "-p", dir], ["mount", "-o", options, image, dir], tool];
  for (const step of steps) {
    let result;
    try {
      result = run(step);
    } catch (error) {
      if (step === tool) run(["umount", dir]);
      rmSync(root, { recursive: true, force: true });
      return `cannot run ${step[0]}: ${String(error)}`;
    }
    if (result.exitCode !== 0) {
      if (step === tool) run(["umount", dir]);
      rmSync(root, { recursive: true, force: true });
      return `cannot ${step.join(" ")} (needs root, loop devices and util-linux): ${result.stderr.toString().trim() || `exit ${result.exitCode}`}`;
    }
  }
  return { root, image, dir, run };
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
  const disk = mountLoopExt4("loop", ["fsfreeze", "--help"]);
  if (typeof disk === "string") return disk;
  const { root, dir, run } = disk;
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

export interface BreakableDisk {
  dir: string;
  /** An ext4 error (as a failing disk raises it): with errors=remount-ro the kernel makes it read-only at once. */
  breakToReadOnly(): void;
  /**
   * What an operator does next: the broken mount cannot be made writable again (the kernel refuses
   * remount,rw after an error, and keeps the broken superblock while files are open on it), so it
   * is detached, its volume copied, checked with e2fsck and mounted at the same path (a restored
   * volume); files opened before stay on the old, read-only mount.
   */
  repair(): void;
  readonly readOnly: boolean;
  unmount(): void;
}

/** Mounts a small ext4 image with errors=remount-ro whose errors can be triggered, or returns why it cannot. */
export function mountBreakableDisk(): BreakableDisk | string {
  const disk = mountLoopExt4("loop,errors=remount-ro", ["true"]);
  if (typeof disk === "string") return disk;
  const { root, image, dir, run } = disk;
  const source = run(["findmnt", "-no", "SOURCE", dir]).stdout.toString().trim();
  const trigger = `/sys/fs/ext4/${source.replace("/dev/", "")}/trigger_fs_error`;
  const cleanup = () => {
    run(["umount", "-l", dir]);
    rmSync(root, { recursive: true, force: true });
  };
  if (!source.startsWith("/dev/") || run(["test", "-w", trigger]).exitCode !== 0) {
    cleanup();
    return `no ${trigger} to raise an ext4 error with (kernel without it?)`;
  }
  const options = () => run(["findmnt", "-no", "OPTIONS", dir]).stdout.toString();
  return {
    dir,
    breakToReadOnly() {
      writeFileSync(trigger, "chat-server fault test");
      if (!/\bemergency_ro\b|^ro\b/.test(options())) throw new Error(`the file system did not go read-only: ${options()}`);
    },
    repair() {
      const repaired = join(root, "repaired.img");
      const steps = [["umount", "-l", dir], ["cp", "--sparse=always", image, repaired], ["e2fsck", "-fy", repaired], ["mount", "-o", "loop,errors=remount-ro", repaired, dir]];
      for (const step of steps) {
        const r = run(step);
        // e2fsck exits 1 when it fixed something (the recorded error), which is what it is for.
        if (r.exitCode !== 0 && !(step[0] === "e2fsck" && r.exitCode === 1)) throw new Error(`${step.join(" ")}: ${r.stderr.toString()}`);
      }
    },
    get readOnly() {
      return /\bemergency_ro\b|^ro\b/.test(options());
    },
    unmount: cleanup,
  };
}
