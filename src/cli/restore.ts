// `restore <file>`: puts a backup made by `backup <file>` back into a data directory, with its
// attachments from the files/ directory beside it. The server must be stopped (the data directory's
// lock is taken). The backup is integrity-checked first; the attachment files are copied before the
// database, so the restored database never names a file that is not there; the database takes its
// name last, atomically, and the old WAL is removed so SQLite cannot replay it over the copy.
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config";
import { DB_FILE, ensureDataDir } from "../db/data-dir";
import { lockDataDir } from "../db/data-dir-lock";
import { fsyncDirectory, fsyncFile } from "../lib/durable-file";
import { FILES_DIR, filesDirOf } from "../modules/attachments/store";
import { attachmentHashes, copyBlobs } from "./backup";
import { defineCommand } from "./command";

export interface RestoreResult {
  database: string;
  copied: number;
  present: number;
  missing: string[];
}

export function restoreBackup(backup: string, dataDir: string, options: { force?: boolean } = {}): RestoreResult {
  if (!existsSync(backup)) throw new ConfigError(`no backup at ${backup}`);
  ensureDataDir(dataDir);
  const lock = lockDataDir(dataDir);
  try {
    const target = join(dataDir, DB_FILE);
    if (existsSync(target) && !options.force) throw new ConfigError(`${target} exists; pass --force to replace it with the backup`);
    const check = new Database(backup, { readonly: true, strict: true });
    try {
      const verdict = check.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
      if (verdict.length !== 1 || verdict[0]!.integrity_check !== "ok") throw new ConfigError(`${backup} fails its integrity check; not restored`);
    } finally {
      check.close();
    }
    const files = copyBlobs(join(dirname(backup), FILES_DIR), filesDirOf(dataDir), attachmentHashes(backup));
    const partial = `${target}.restore-${process.pid}`;
    copyFileSync(backup, partial);
    fsyncFile(partial);
    for (const suffix of ["-wal", "-shm"]) rmSync(target + suffix, { force: true });
    renameSync(partial, target);
    fsyncDirectory(dataDir);
    return { database: target, ...files };
  } finally {
    lock?.release();
  }
}

export const restoreCommand = defineCommand(
  {
    name: "restore",
    usage: "<file>",
    summary: "Restore a backup (and its attachments from files/ beside it) into the data directory; the server must be stopped.",
    description: "Refuses to replace an existing database without --force. The files/ directory next to <file> is the one `backup` wrote.",
    options: { force: { flag: "--force", help: "Replace the data directory's existing database", boolean: true } },
    settings: ["dataDir"],
    positionals: [{ name: "<file>", required: true }],
  },
  ({ config, options, positionals }) => {
    const result = restoreBackup(resolve(positionals[0]!), config.dataDir, { force: options.force === "true" });
    console.log(`restored ${result.database}; attachments: ${result.copied} copied, ${result.present} already there`);
    if (result.missing.length) console.warn(`warning: ${result.missing.length} attachment file(s) are not in the backup's files/: ${result.missing.slice(0, 5).join(", ")}`);
  },
);
