// One server per data directory: `serve` holds flock(LOCK_EX) on <data-dir>/server.lock for its
// whole life. Two servers on one database keep storage correct but split live delivery and
// presence between them, so the second refuses to start. The kernel drops the lock when the holder
// dies, even by kill -9, so a crash never leaves a stale lock behind (a PID file alone would).
// CLI commands (user, migrate, backup) do not take it: they are safe beside a running server.
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../config";
import { fsCause } from "../lib/durable-file";

export const LOCK_FILE = "server.lock";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
/** EWOULDBLOCK on Linux (glibc and musl) and on macOS/BSD. */
const EWOULDBLOCK = new Set([11, 35]);

interface Libc {
  flock(fd: number, operation: number): number;
  errno(): number | null;
}

let libc: Libc | null | undefined;

/** flock(2) from the C library, or null when none can be loaded (the lock is then skipped, with a warning). */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  const names = process.platform === "darwin" ? ["libc.dylib", "/usr/lib/libSystem.B.dylib"] : ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];
  const flock = { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } as const;
  const errnoPointer = { args: [], returns: FFIType.ptr } as const;
  for (const name of names) {
    // One dlopen (each one compiles its bindings, a few ms of start-up): errno lives behind a
    // per-thread pointer, __errno_location on glibc and musl, __error on macOS.
    for (const errnoSymbol of ["__errno_location", "__error", null]) {
      try {
        const lib = errnoSymbol ? dlopen(name, { flock, [errnoSymbol]: errnoPointer }) : dlopen(name, { flock });
        const symbols = lib.symbols as Record<string, (...args: number[]) => unknown>;
        return (libc = {
          flock: (fd, op) => symbols.flock!(fd, op) as number,
          errno: () => {
            const p = errnoSymbol ? (symbols[errnoSymbol]!() as Pointer | null) : null;
            return p ? read.i32(p, 0) : null;
          },
        });
      } catch {}
    }
  }
  return (libc = null);
}

export interface DataDirLock {
  path: string;
  /** Releases the lock (the file stays: removing it would let two processes lock two different files). */
  release(): void;
}

/**
 * Takes the data directory's server lock and writes our PID into it, or throws a ConfigError naming
 * the directory and the PID of the server that holds it. Returns null when the platform offers no
 * flock (the caller warns and runs without the guard).
 */
export function lockDataDir(dataDir: string): DataDirLock | null {
  const c = loadLibc();
  if (!c) return null;
  const path = join(dataDir, LOCK_FILE);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (error) {
    throw new ConfigError(`cannot create ${path}: ${fsCause(error)}; the server needs to write in its data directory ${dataDir}`);
  }
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = c.errno();
    closeSync(fd);
    if (errno !== null && !EWOULDBLOCK.has(errno)) throw new ConfigError(`cannot lock ${path}: flock failed with errno ${errno}`);
    const holder = readHolder(path);
    throw new ConfigError(
      `another chat-server (${holder ? `PID ${holder}` : "PID unknown"}) is already serving the data directory ${resolve(dataDir)} ` +
        `(it holds ${path}); stop it first, or give this one another --data-dir`,
    );
  }
  ftruncateSync(fd);
  writeSync(fd, `${process.pid}\n`, 0);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      c.flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

/** The PID the holder wrote; it writes just after locking, so an empty file is re-read briefly. */
function readHolder(path: string): string | null {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const pid = readFileSync(path, "utf8").trim();
      if (/^\d+$/.test(pid)) return pid;
    } catch {}
    Bun.sleepSync(10);
  }
  return null;
}
