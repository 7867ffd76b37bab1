// Shared pieces of the fault tests: the compiled binary in its own folder, data directories made
// by the binary itself, and crafted damage (a zeroed secret, garbage pages, a future migration).
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, mkdtempSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, installInEmptyDir, runToExit, type RunResult } from "./binary";

export type Install = Awaited<ReturnType<typeof installInEmptyDir>>;

export async function install(prefix: string): Promise<Install> {
  const installed = await installInEmptyDir(prefix);
  // Traversable by the unprivileged user the permission tests run the binary as.
  chmodSync(installed.dir, 0o755);
  return installed;
}

export const newDataDir = (inst: Install) => mkdtempSync(join(inst.dir, "data-"));

/** Runs a command of the binary; a server that should have refused to start is killed after 15 s. */
export const run = (inst: Install, args: string[], env?: Record<string, string>): Promise<RunResult> =>
  runToExit(inst.bin, args, { cwd: inst.dir, env, timeoutMs: 15_000 });

export const serveArgs = (dataDir: string) => ["serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1", "--log-level", "warn"];

/** A data directory holding a database the binary itself created and migrated. */
export async function migratedDataDir(inst: Install): Promise<string> {
  const dir = newDataDir(inst);
  const result = await run(inst, ["migrate", "--data-dir", dir]);
  if (result.code !== 0) throw new Error(`migrate failed (${result.code}): ${result.stderr}`);
  return dir;
}

/** Fills the users table over many pages, then overwrites a page in the middle of the file with garbage. */
export function corruptPages(dbPath: string): void {
  const db = new Database(dbPath, { strict: true });
  const insert = db.query("INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0)");
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run(`u${i}`, `user${i}`, `user${i}`, `u${i}@x.invalid`, `u${i}@x.invalid`, "h".repeat(100));
  })();
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  const pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
  db.close();
  const pages = Math.floor(statSync(dbPath).size / pageSize);
  const fd = openSync(dbPath, "r+");
  try {
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, Math.floor(pages / 2) * pageSize);
  } finally {
    closeSync(fd);
  }
}

/** Runs `argv` as an unprivileged user when we are root (root ignores file modes), else as is. */
export function unprivileged(argv: string[]): string[] {
  return process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv] : argv;
}

export async function exec(argv: string[], cwd: string): Promise<RunResult> {
  const proc = Bun.spawn(argv, { cwd, env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Whether this machine lets us mount a read-only tmpfs in a private user+mount namespace. */
export async function canMountReadOnly(): Promise<boolean> {
  try {
    return (await exec(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o ro,size=1m tmpfs /mnt && true"], "/")).code === 0;
  } catch {
    return false;
  }
}
