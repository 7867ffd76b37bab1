// One server per data directory, and backups killed half-way: real processes of the compiled binary.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { startServer } from "../../src/server";
import { client } from "../support/api";
import { cleanEnv, startBinary } from "../support/binary";
import { install, type Install, migratedDataDir, newDataDir, run, serveArgs } from "../support/faults";

// Processes of a 110 MB binary on a busy 2-core machine: far from the 5 s default when it is loaded.
setDefaultTimeout(60_000);
let inst: Install;
beforeAll(async () => {
  inst = await install("chat-faults-datadir-");
});
afterAll(() => inst.cleanup());

test("a second server on the same data directory exits 2 naming it and the first's PID; CLI commands still work; after kill -9 a new one starts", async () => {
  const dir = newDataDir(inst);
  const first = await startBinary(inst.bin, { cwd: inst.dir, args: ["--data-dir", dir] });
  let firstStopped = false;
  try {
    const second = await run(inst, serveArgs(dir));
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(dir);
    expect(second.stderr).toContain(`PID ${first.proc.pid}`);

    // Only serve takes the lock: the operator's commands keep working beside the server.
    expect((await run(inst, ["migrate", "--data-dir", dir])).code).toBe(0);
    const created = await run(inst, ["user", "create", "--username", "beside_lock", "--email", "beside@example.com", "--data-dir", dir], {
      CHAT_NEW_PASSWORD: "a fine password",
    });
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: "" });
    expect((await run(inst, ["backup", join(dir, "..", "beside-lock.db"), "--data-dir", dir])).code).toBe(0);
    const login = await client(first.url).post("/api/v1/auth/login", { username: "beside_lock", password: "a fine password" });
    expect(login.status).toBe(200);

    // The kernel drops the lock with the process, however it dies.
    await first.stop("SIGKILL");
    firstStopped = true;
    const third = await startBinary(inst.bin, { cwd: inst.dir, args: ["--data-dir", dir] });
    expect(await third.stop()).toBe(0);
  } finally {
    if (!firstStopped) await first.stop("SIGKILL");
  }
});

test("in one process too: a second startServer on a locked data directory throws, and a stopped server releases the lock", async () => {
  const dir = newDataDir(inst);
  const config = { ...loadConfig([], {}), port: 0, host: "127.0.0.1", dataDir: dir, logLevel: "silent" as const };
  const a = await startServer(config, silentLogger);
  try {
    await expect(startServer(config, silentLogger)).rejects.toThrow(`PID ${process.pid}`);
  } finally {
    await a.stop();
  }
  const b = await startServer(config, silentLogger);
  await b.stop();
});

test("a backup waiting for the database already has its partial file 0600; killed by -9, the next backup removes that file", async () => {
  const dir = await migratedDataDir(inst);
  const out = newDataDir(inst);
  // Another connection holding SQLite's exclusive lock makes the backup wait before VACUUM INTO runs.
  const holder = new Database(join(dir, "chat.db"));
  holder.run("PRAGMA locking_mode = EXCLUSIVE");
  holder.run("BEGIN EXCLUSIVE");
  holder.run("CREATE TABLE hold_the_lock (x)");
  const proc = Bun.spawn([inst.bin, "backup", join(out, "nightly.db"), "--data-dir", dir], { env: cleanEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  try {
    const partial = join(out, `nightly.db.partial-${proc.pid}`);
    const deadline = Date.now() + 10_000;
    while (!existsSync(partial) && Date.now() < deadline) await Bun.sleep(20);
    expect(existsSync(partial)).toBe(true);
    expect(statSync(partial).mode & 0o777).toBe(0o600);
    proc.kill("SIGKILL");
    await proc.exited;
    expect(existsSync(partial)).toBe(true); // what a killed backup leaves

    // A file that only looks like a partial (not SQLite) is never touched.
    const decoy = join(out, `notes.txt.partial-${proc.pid}`);
    writeFileSync(decoy, "my notes\n");
    holder.run("ROLLBACK");
    holder.close();
    const next = await run(inst, ["backup", join(out, "next.db"), "--data-dir", dir]);
    expect(next.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["next.db", `notes.txt.partial-${proc.pid}`]);
    expect(statSync(join(out, "next.db")).mode & 0o777).toBe(0o600);
  } finally {
    proc.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
});
