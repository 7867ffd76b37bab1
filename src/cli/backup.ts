// `backup <file>`: an online, consistent copy of the database, safe while the server runs.
// VACUUM INTO reads one snapshot on its own connection (WAL lets the server keep writing), into a
// temporary file that is integrity-checked and fsynced before it takes the final name, so a
// half-written or corrupt backup never sits under the name the operator asked for. The temporary
// file holds password hashes: it is created 0600 before SQLite writes a byte, and the ones a killed
// backup left behind are removed by the next one.
import { Database } from "bun:sqlite";
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, statSync, unlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config";
import { fsyncDirectory, fsyncFile, readHead, removeStaleTemporaries } from "../lib/durable-file";
import { DB_FILE } from "../db/data-dir";
import { blobPath, FILES_DIR, filesDirOf } from "../modules/attachments/store";
import { defineCommand } from "./command";

export interface BackupResult {
  path: string;
  bytes: number;
}

export interface FilesResult {
  /** Where the blobs are: `files/` next to the database copy. */
  dir: string;
  copied: number;
  /** Already there from an earlier backup into the same directory (blobs never change). */
  present: number;
  /** Named by the copy but gone from the data directory (deleted since the snapshot). */
  missing: string[];
}

/** The hashes of every attachment in a database file (read-only; none before the attachments migration). */
export function attachmentHashes(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true, strict: true });
  try {
    const table = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'attachments'").get();
    return table ? db.query<{ sha256: string }, []>("SELECT DISTINCT sha256 FROM attachments").all().map((r) => r.sha256) : [];
  } finally {
    db.close();
  }
}

/**
 * Copies the blobs of these hashes from one files directory to another, each durably (a private
 * temporary, fsync, link to its name, directory fsync), skipping the ones already there: they are
 * content-addressed, so many backups into one directory share one `files/` and each copies only
 * what is new.
 */
export function copyBlobs(fromDir: string, toDir: string, hashes: string[]): Omit<FilesResult, "dir"> {
  const result = { copied: 0, present: 0, missing: [] as string[] };
  for (const sha256 of hashes) {
    const from = blobPath(fromDir, sha256);
    const to = blobPath(toDir, sha256);
    if (existsSync(to)) {
      result.present++;
      continue;
    }
    if (!existsSync(from)) {
      result.missing.push(sha256);
      continue;
    }
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    const partial = `${to}.partial-${process.pid}`;
    try {
      copyFileSync(from, partial);
      fsyncFile(partial);
      try {
        linkSync(partial, to);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    } finally {
      try {
        unlinkSync(partial);
      } catch {}
    }
    fsyncDirectory(dirname(to));
    result.copied++;
  }
  return result;
}

/** The attachments of a database backup at `target`: into `files/` beside it. */
export function backupFiles(dataDir: string, target: string): FilesResult {
  const dir = join(dirname(target), FILES_DIR);
  return { dir, ...copyBlobs(filesDirOf(dataDir), dir, attachmentHashes(target)) };
}

/** Writes a verified copy of the database at `source` to `target`, which must not exist. */
export function backupDatabase(source: string, target: string, busyTimeoutMs = 30_000): BackupResult {
  if (!existsSync(source)) throw new ConfigError(`no database at ${source} (check --data-dir)`);
  if (existsSync(target)) throw new ConfigError(`${target} already exists; refusing to overwrite it`);
  if (!existsSync(dirname(target))) throw new ConfigError(`directory ${dirname(target)} does not exist`);
  removeStalePartials(dirname(target));
  const partial = `${target}.partial-${process.pid}`;
  // Empty and owner-only from the first byte: VACUUM INTO accepts an empty file and keeps its mode.
  closeSync(openSync(partial, "wx", 0o600));
  try {
    const db = new Database(source, { readwrite: true, create: false, strict: true });
    try {
      // busy_timeout first: a writer holding the lock makes us wait, not fail.
      db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      db.query("VACUUM INTO ?").run(partial);
    } finally {
      db.close();
    }
    const copy = new Database(partial, { readonly: true, strict: true });
    let verdict: string[];
    try {
      verdict = copy.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all().map((r) => r.integrity_check);
    } finally {
      copy.close();
    }
    if (verdict.length !== 1 || verdict[0] !== "ok") throw new Error(`integrity check of the copy failed: ${verdict.slice(0, 5).join("; ")}`);
    // SQLite does not fsync VACUUM INTO's output; do it before the file gets its real name.
    fsyncFile(partial);
    // link() fails if the target appeared meanwhile: never overwrite, even in a race.
    try {
      linkSync(partial, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new ConfigError(`${target} already exists; refusing to overwrite it`);
      throw error;
    }
  } finally {
    try {
      unlinkSync(partial);
    } catch {}
  }
  // The new name (and the partial's removal) survive a power loss only once the directory is synced.
  fsyncDirectory(dirname(target));
  return { path: target, bytes: statSync(target).size };
}

const SQLITE_HEADER = Buffer.from("SQLite format 3\0");

/** `<name>.partial-<pid>` files of backups that died (kill -9, power loss): only empty or SQLite ones. */
function removeStalePartials(dir: string): string[] {
  return removeStaleTemporaries(dir, /\.partial-(\d+)$/, (path) => {
    try {
      const head = readHead(path, SQLITE_HEADER.length);
      return head.length === 0 || head.equals(SQLITE_HEADER);
    } catch {
      return false;
    }
  });
}

const formatBytes = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;

export const backupCommand = defineCommand(
  {
    name: "backup",
    usage: "<file>",
    summary: "Write a consistent, integrity-checked copy of the database to <file> (safe while the server runs).",
    description:
      "Refuses to overwrite an existing file. Attachments are copied into files/ next to <file> (content-addressed:\n" +
      "backups in one directory share it, each copying only new files). To restore: stop the server and run\n" +
      "chat-server restore <file>, or by hand replace <data-dir>/chat.db with the backup, delete chat.db-wal and\n" +
      "chat.db-shm if present, copy files/ into <data-dir>/files/, and start it again.\n" +
      "With --database-url the database is PostgreSQL's to back up: use pg_dump (this command exits 2 saying so);\n" +
      "the attachments stay in <data-dir>/files/ and are copied like any directory.",
    settings: ["dataDir", "databaseUrl"],
    positionals: [{ name: "<file>", required: true }],
  },
  ({ config, positionals }) => {
    if (config.databaseUrl) {
      throw new ConfigError(
        "backup copies the SQLite database in --data-dir; with --database-url the data is in PostgreSQL: back it up with pg_dump " +
          "(for example: pg_dump --format=custom --file=chat.dump \"$CHAT_DATABASE_URL\") and copy <data-dir>/files/ beside it.",
      );
    }
    const result = backupDatabase(join(config.dataDir, DB_FILE), resolve(positionals[0]!));
    console.log(`backup written to ${result.path} (${formatBytes(result.bytes)}, ${result.bytes} bytes, integrity ok)`);
    const files = backupFiles(config.dataDir, result.path);
    console.log(`attachments in ${files.dir}: ${files.copied} copied, ${files.present} already there`);
    // Deleted between the snapshot and the copy (a sweep, a deleted message): the restored rows would have no bytes.
    if (files.missing.length) console.warn(`warning: ${files.missing.length} attachment file(s) were deleted during the backup: ${files.missing.slice(0, 5).join(", ")}`);
  },
);
