// The bytes of attachments, content-addressed under <data-dir>/files/ab/cd/<sha256>: an upload streams
// into a private temporary file (0600) while its sha256 is computed, is fsynced, then linked under its
// hash and the directory fsynced; the same bytes uploaded twice (even at once) are stored once.
// Blobs are removed when no attachment row names their hash any more. Deciding that and linking a new
// upload both happen synchronously on the event loop, so neither can interleave with the other.
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory } from "../../lib/durable-file";

export const FILES_DIR = "files";
const TMP_DIR = "tmp";
const SHA256 = /^[0-9a-f]{64}$/;

export const filesDirOf = (dataDir: string) => join(dataDir, FILES_DIR);

/** Where the blob of this hash lives (two levels of fan-out keep directories small). */
export function blobPath(filesDir: string, sha256: string): string {
  if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return join(filesDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

/** Creates the files directory, and removes temporaries of uploads a previous process did not finish. */
export function prepareFilesDir(filesDir: string): void {
  mkdirSync(join(filesDir, TMP_DIR), { recursive: true, mode: 0o700 });
  for (const name of readdirSync(join(filesDir, TMP_DIR))) rmSync(join(filesDir, TMP_DIR, name), { force: true });
}

/** An upload being written: bytes go to a temporary file while the hash and size are kept. */
export class BlobWriter {
  readonly tempPath: string;
  private readonly hasher = new Bun.CryptoHasher("sha256");
  private handle: FileHandle | null = null;
  size = 0;

  private constructor(
    private readonly filesDir: string,
    tempPath: string,
  ) {
    this.tempPath = tempPath;
  }

  static async create(filesDir: string): Promise<BlobWriter> {
    const writer = new BlobWriter(filesDir, join(filesDir, TMP_DIR, `${Bun.randomUUIDv7()}.part`));
    mkdirSync(dirname(writer.tempPath), { recursive: true, mode: 0o700 });
    writer.handle = await open(writer.tempPath, "wx", 0o600);
    return writer;
  }

  /**
   * Written through the thread pool, never on the event loop: a stalled or frozen disk must not stop
   * /health, reads and sockets (issue 17). A synchronous write measured less memory with 50 slow
   * uploads at once (1.9 against ~5.8 MiB RSS per upload, bench/upload-memory.ts), since the body
   * stops backing up in Bun's buffer while a write is awaited, but it blocks the whole server for as
   * long as the disk does.
   */
  async write(bytes: Uint8Array): Promise<void> {
    this.hasher.update(bytes);
    this.size += bytes.byteLength;
    for (let at = 0; at < bytes.byteLength; ) {
      const { bytesWritten } = await this.handle!.write(bytes, at, bytes.byteLength - at);
      at += bytesWritten;
    }
  }

  /** fsyncs and closes the temporary file; returns its sha256 (hex). */
  async finish(): Promise<string> {
    await this.handle!.sync();
    await this.handle!.close();
    this.handle = null;
    return this.hasher.digest("hex");
  }

  /** The first `length` bytes of the finished file (read back rather than kept while streaming). */
  readHead(length: number): Promise<Uint8Array> {
    return Bun.file(this.tempPath).slice(0, length).bytes();
  }

  /**
   * Gives the finished file its content address (synchronous: see the top of the file). When the
   * blob is already there (the same bytes uploaded before, or concurrently), the temporary is dropped.
   */
  commit(sha256: string): void {
    const target = blobPath(this.filesDir, sha256);
    const dir = dirname(target);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // The new directories' names must be on disk too.
      fsyncDirectory(dirname(dir));
      fsyncDirectory(dirname(dirname(dir)));
    }
    try {
      linkSync(this.tempPath, target);
      fsyncDirectory(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      this.discard();
    }
  }

  /** Removes the temporary file (an aborted or refused upload leaves nothing behind). */
  discard(): void {
    const handle = this.handle;
    this.handle = null;
    handle?.close().catch(() => {});
    try {
      unlinkSync(this.tempPath);
    } catch {}
  }
}

/** Deletes the blobs of these hashes that `stillUsed` says no row references. */
export function removeUnusedBlobs(filesDir: string, hashes: Iterable<string>, stillUsed: (sha256: string) => boolean): number {
  let removed = 0;
  for (const sha256 of new Set(hashes)) {
    if (stillUsed(sha256)) continue;
    try {
      unlinkSync(blobPath(filesDir, sha256));
      removed++;
    } catch {}
  }
  return removed;
}

/** Every blob under the files directory, as hash → path (backup and tests). */
export function listBlobs(filesDir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(filesDir)) return out;
  for (const a of readdirSync(filesDir)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue;
    for (const b of readdirSync(join(filesDir, a))) {
      for (const name of readdirSync(join(filesDir, a, b))) {
        const path = join(filesDir, a, b, name);
        if (SHA256.test(name) && statSync(path).isFile()) out.set(name, path);
      }
    }
  }
  return out;
}
