// Start-up faults against the compiled binary: a secret a crash zeroed, a database migrated by a
// newer binary, a damaged database, and paths the server cannot use. Each refuses to start with
// exit 2 and a message naming the file and the cause; none starts serving.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { weakSecretReason } from "../../src/secret";
import { client } from "../support/api";
import { startBinary } from "../support/binary";
import { canMountReadOnly, corruptPages, exec, install, type Install, migratedDataDir, newDataDir, run, serveArgs, unprivileged } from "../support/faults";
import { craftToken } from "../support/tokens";

const readOnlyMountable = await canMountReadOnly();
// Processes of a 110 MB binary on a busy 2-core machine: far from the 5 s default when it is loaded.
setDefaultTimeout(60_000);
let inst: Install;
beforeAll(async () => {
  inst = await install("chat-faults-startup-");
});
afterAll(() => inst.cleanup());

describe("the JWT secret", () => {
  test("a jwt-secret a crash left as 65 NUL bytes stops the server (exit 2, naming the file); a token signed with NULs is never accepted", async () => {
    const dir = newDataDir(inst);
    const secretPath = join(dir, "jwt-secret");
    let running = await startBinary(inst.bin, { cwd: inst.dir, args: ["--data-dir", dir] });
    const alice = await client(running.url).newUser("nul");
    expect(await running.stop()).toBe(0);

    writeFileSync(secretPath, Buffer.alloc(65)); // what ext4 gave back after the power loss
    const refused = await run(inst, serveArgs(dir));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(secretPath);
    expect(refused.stderr).toContain("NUL");

    // The operator deletes it as told: a new random secret, and a token forged with NULs is refused.
    rmSync(secretPath);
    running = await startBinary(inst.bin, { cwd: inst.dir, args: ["--data-dir", dir] });
    try {
      const api = client(running.url);
      const forged = await craftToken(new Uint8Array(65), { sub: alice.user.id });
      expect((await api.get("/api/v1/auth/me", forged)).status).toBe(401);
      expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(401); // signed with the old secret
    } finally {
      expect(await running.stop()).toBe(0);
    }
    expect(weakSecretReason(readFileSync(secretPath))).toBeNull();
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });

  test("a jwt-secret of one repeated byte, or too short, stops the server with exit 2 naming the file", async () => {
    for (const [content, words] of [
      ["A".repeat(64) + "\n", "same"],
      ["short-secret\n", "fewer than 32"],
      ["", "empty"],
    ] as const) {
      const dir = newDataDir(inst);
      writeFileSync(join(dir, "jwt-secret"), content, { mode: 0o600 });
      const result = await run(inst, serveArgs(dir));
      expect({ content, code: result.code }).toEqual({ content, code: 2 });
      expect(result.stderr).toContain(join(dir, "jwt-secret"));
      expect(result.stderr).toContain(words);
    }
  });

  test("a configured CHAT_JWT_SECRET of one repeated byte stops the server with exit 2", async () => {
    const result = await run(inst, serveArgs(newDataDir(inst)), { CHAT_JWT_SECRET: "x".repeat(40) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("CHAT_JWT_SECRET");
    expect(result.stderr).toContain("same");
  });

  test("weakSecretReason accepts generated and long operator secrets and names what is wrong with the rest", () => {
    expect(weakSecretReason(Buffer.from(Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url") + "\n"))).toBeNull();
    expect(weakSecretReason(Buffer.from("correct horse battery staple, forty bytes"))).toBeNull();
    expect(weakSecretReason(Buffer.alloc(65))).toContain("NUL");
    expect(weakSecretReason(Buffer.concat([Buffer.from("a".repeat(40)), Buffer.alloc(8)]))).toContain("NUL");
    expect(weakSecretReason(Buffer.from("\xff".repeat(40), "latin1"))).toContain("same");
    expect(weakSecretReason(Buffer.from("   tiny   \n"))).toContain("fewer than 32");
  });
});

describe("a database from a newer binary", () => {
  test("an unknown recorded migration stops serve and makes migrate fail (exit 2), naming it and the newer binary", async () => {
    const dir = await migratedDataDir(inst);
    const db = new Database(join(dir, "chat.db"));
    const future = Date.UTC(2031, 0, 2);
    db.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run("f".repeat(64), future);
    db.close();
    for (const args of [serveArgs(dir), ["migrate", "--data-dir", dir]]) {
      const result = await run(inst, args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(String(future));
      expect(result.stderr).toContain("newer");
      expect(result.stdout).not.toContain("up to date");
    }
  });
});

describe("a damaged database", () => {
  test("garbage pages stop serve and migrate (exit 2) with a message pointing to the backup", async () => {
    const dir = await migratedDataDir(inst);
    corruptPages(join(dir, "chat.db"));
    for (const args of [serveArgs(dir), ["migrate", "--data-dir", dir]]) {
      const result = await run(inst, args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(join(dir, "chat.db"));
      expect(result.stderr).toContain("quick_check");
      expect(result.stderr).toContain("backup");
    }
  });

  test("a file that is not a database stops the server with exit 2 naming it", async () => {
    const dir = newDataDir(inst);
    writeFileSync(join(dir, "chat.db"), "these are not the pages you are looking for\n".repeat(200));
    const result = await run(inst, serveArgs(dir));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(dir, "chat.db"));
    expect(result.stderr).toContain("not a SQLite database");
  });
});

describe("paths the server cannot use", () => {
  test("a directory named chat.db: exit 2, 'is a directory'", async () => {
    const dir = newDataDir(inst);
    mkdirSync(join(dir, "chat.db"));
    const result = await run(inst, serveArgs(dir));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(dir, "chat.db"));
    expect(result.stderr).toContain("is a directory");
  });

  test("a data directory the server's user may not write: exit 2, 'permission denied', naming it", async () => {
    const dir = newDataDir(inst);
    chmodSync(dir, 0o555);
    const result = await exec(unprivileged([inst.bin, ...serveArgs(dir)]), inst.dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(dir);
    expect(result.stderr).toContain("permission denied");
  });

  test("a chat.db the server's user may not write: exit 2, 'permission denied', naming the file", async () => {
    const dir = await migratedDataDir(inst);
    chmodSync(dir, 0o777);
    chmodSync(join(dir, "chat.db"), 0o400);
    const result = await exec(unprivileged([inst.bin, ...serveArgs(dir)]), inst.dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(dir, "chat.db"));
    expect(result.stderr).toContain("permission denied");
  });

  test.skipIf(!readOnlyMountable)("a data directory on a read-only file system: exit 2, 'read-only file system'", async () => {
    const dir = newDataDir(inst);
    const script = `mount -t tmpfs -o ro,size=1m tmpfs '${dir}' && exec '${inst.bin}' ${serveArgs(dir).join(" ")}`;
    const result = await exec(["unshare", "-rm", "sh", "-c", script], inst.dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(dir);
    expect(result.stderr).toContain("read-only file system");
  });

  test("chat.db, its -wal and -shm are created 0600, and an older 0644 chat.db is tightened", async () => {
    const dir = newDataDir(inst);
    const running = await startBinary(inst.bin, { cwd: inst.dir, args: ["--data-dir", dir] });
    try {
      await client(running.url).newUser("modes");
      for (const name of ["chat.db", "chat.db-wal", "chat.db-shm", "server.lock", "jwt-secret"]) {
        expect({ name, mode: statSync(join(dir, name)).mode & 0o777 }).toEqual({ name, mode: 0o600 });
      }
    } finally {
      expect(await running.stop()).toBe(0);
    }
    chmodSync(join(dir, "chat.db"), 0o644);
    expect((await run(inst, ["migrate", "--data-dir", dir])).code).toBe(0);
    expect(statSync(join(dir, "chat.db")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, "chat.db"))).toBe(true);
  });
});
