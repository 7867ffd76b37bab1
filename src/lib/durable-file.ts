// Files that must survive a power loss whole or not at all: written to a private temporary file,
// fsynced, given their name, then the directory fsynced so the name itself is on disk. Without
// this, ext4 can bring a freshly written file back after a crash as the right size full of NULs.
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** What an errno means to an operator, for start-up errors that name the path and the cause. */
export const FS_CAUSES: Record<string, string> = {
  EISDIR: "it is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOENT: "its directory does not exist",
  ENOTDIR: "a component of the path is not a directory",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
};

export function fsCause(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return FS_CAUSES[code] ? `${FS_CAUSES[code]} (${code})` : error instanceof Error ? error.message : String(error);
}

/** fsyncs a directory, so the names created, renamed or removed in it survive a power loss. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs a file's content (what `VACUUM INTO` and plain writes leave to the page cache). */
export function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` with exactly `data` and `mode`, durably. The temporary file has `mode` from its
 * first byte (never readable by others, even for an instant). With `overwrite: false` (the default)
 * an existing `path` is never replaced and the call throws EEXIST: link(2) gives the name atomically
 * and only if it is free, where rename(2) would replace a file another process just wrote.
 */
export function writeFileDurably(path: string, data: string | Uint8Array, mode = 0o600, options: { overwrite?: boolean } = {}): void {
  const dir = dirname(path);
  removeStaleTemporaries(dir, new RegExp(`^${escapeRegExp(basename(path))}\\.tmp-(\\d+)$`));
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "wx", mode);
  try {
    try {
      // The umask may have removed bits the caller asked for; it can never have added any.
      fchmodSync(fd, mode);
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (options.overwrite) renameSync(temp, path);
    else linkSync(temp, path);
  } finally {
    try {
      unlinkSync(temp);
    } catch {}
  }
  fsyncDirectory(dir);
}

/** Whether a process with this id is alive (EPERM means alive but someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Removes the files in `dir` whose name matches `pattern` (its first group is the writer's PID) left
 * by processes that died mid-write (kill -9, power loss), when `accept(path)` agrees. Files of other
 * live processes (a concurrent writer) are kept.
 */
export function removeStaleTemporaries(dir: string, pattern: RegExp, accept: (path: string) => boolean = () => true): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    // Our own PID can only be an earlier process's (before a reboot): writes here are synchronous
    // and always remove their temporary file.
    if (!Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && processAlive(pid))) continue;
    const path = join(dir, name);
    if (!accept(path)) continue;
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {}
  }
  return removed;
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(n);
    return buffer.subarray(0, readSync(fd, buffer, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
