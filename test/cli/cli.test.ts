// The command line as a self-hoster uses it: real processes of src/index.ts against a data dir,
// with a real server running beside them for the online backup and the token revocation.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { client } from "../support/api";
import { startTestServer, type TestServer } from "../support/server";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");

function cleanEnv(extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CHAT_") && k !== "PORT") env[k] = v;
  return { ...env, CHAT_PASSWORD_MEMORY_KIB: "19456", ...extra };
}

async function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  const proc = Bun.spawn([process.execPath, "run", ENTRY, ...args], {
    env: cleanEnv(options.env),
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

describe("help and argument errors", () => {
  test("every subcommand has its own --help naming its flags, exit 0", async () => {
    const cases: [string[], string[]][] = [
      [["serve", "--help"], ["--port", "CHAT_PORT", "SIGHUP"]],
      [["migrate", "--help"], ["--data-dir"]],
      [["backup", "--help"], ["<file>", "--data-dir", "overwrite"]],
      [["user", "--help"], ["create", "reset-password", "disable", "enable"]],
      [["user", "disable", "--help"], ["--username", "4401", "--data-dir"]],
      [["user", "enable", "--help"], ["--username", "--data-dir"]],
      [["user", "create", "--help"], ["--username", "--email", "--password", "CHAT_NEW_PASSWORD"]],
      [["user", "reset-password", "--help"], ["--username", "--generate"]],
      [["--help"], ["serve", "migrate", "backup", "user", "version", "CHAT_DATA_DIR"]],
    ];
    for (const [args, words] of cases) {
      const result = await cli(args);
      expect(result.code).toBe(0);
      for (const word of words) expect(result.stdout).toContain(word);
    }
  }, 30_000);

  test("unknown flags, flags of another command, missing and extra arguments fail naming them", async () => {
    const cases: [string[], string][] = [
      [["backup", "--frobnicate", "x"], "--frobnicate"],
      [["backup", "--port", "1", "x"], "--port"],
      [["backup"], "<file>"],
      [["backup", "a", "b"], '"b"'],
      [["migrate", "--data-dir"], "--data-dir"],
      [["user", "create", "--email", "a@example.com"], "--username"],
      [["user", "create", "--username", "x", "--email", "a@example.com", "--password", "long enough"], "--username"],
      [["user", "create", "--username", "xavier", "--email", "nope", "--password", "long enough"], "--email"],
      [["user", "frob"], "frob"],
      [["user", "disable"], "--username"],
      [["user", "enable", "--password", "x", "--username", "u"], "--password"],
      [["user"], "create"],
    ];
    for (const [args, word] of cases) {
      const result = await cli(args);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(word);
    }
  }, 30_000);
});

describe("against a running server", () => {
  let server: TestServer;
  let scratch: string;
  beforeAll(async () => {
    server = await startTestServer();
    scratch = mkdtempSync(join(tmpdir(), "chat-cli-"));
  });
  afterAll(async () => {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  });
  const dataDir = () => ["--data-dir", server.dataDir];

  test("user create (password on stdin) makes an account that can log in over the API", async () => {
    const api = client(server.url);
    const created = await cli(["user", "create", "--username", "carol_cli", "--email", "carol@example.com", ...dataDir()], { stdin: "a fine password\n" });
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("carol_cli");
    expect(created.stdout).not.toContain("a fine password");
    const login = await api.post("/api/v1/auth/login", { username: "carol_cli", password: "a fine password" });
    expect(login.status).toBe(200);
    const again = await cli(["user", "create", "--username", "Carol_CLI", "--email", "other@example.com", ...dataDir()], {
      env: { CHAT_NEW_PASSWORD: "another password" },
    });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("username");
  });

  test("user reset-password revokes tokens issued before it; the new password works", async () => {
    const api = client(server.url);
    const alice = await api.newUser("alice");
    expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(200);
    const reset = await cli(["user", "reset-password", "--username", alice.user.username, ...dataDir()], {
      env: { CHAT_NEW_PASSWORD: "brand new password" },
    });
    expect(reset.code).toBe(0);
    expect((await api.get("/api/v1/auth/me", alice.token)).status).toBe(401);
    expect((await api.post("/api/v1/auth/login", { username: alice.user.username, password: alice.password })).status).toBe(401);
    expect((await api.post("/api/v1/auth/login", { username: alice.user.username, password: "brand new password" })).status).toBe(200);
    const missing = await cli(["user", "reset-password", "--username", "nobody_here", "--generate", ...dataDir()]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("nobody_here");
  });

  test("backup while messages are being written gives a verified copy, and never overwrites", async () => {
    const api = client(server.url);
    const a = await api.newUser("a");
    const b = await api.newUser("b");
    const dm = await api.dm(a.token, b.user.id);
    let sent = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await api.send(a.token, dm.body.id, `message ${sent}`);
        sent++;
      }
    })();
    await Bun.sleep(50);
    const target = join(scratch, "backup.db");
    const result = await cli(["backup", target, ...dataDir()]);
    writing = false;
    await writer;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("integrity ok");
    expect(result.stdout).toContain(String(statSync(target).size));
    expect(statSync(target).mode & 0o077).toBe(0);
    const copy = new Database(target, { readonly: true });
    try {
      const seqs = copy.query("SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq").all(dm.body.id) as { seq: number }[];
      // A consistent snapshot: the sequence has no gaps, whatever point it was taken at.
      expect(seqs.map((r) => r.seq)).toEqual(seqs.map((_, i) => i + 1));
      expect((copy.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe("ok");
    } finally {
      copy.close();
    }

    const existing = join(scratch, "existing.db");
    writeFileSync(existing, "precious");
    const refused = await cli(["backup", existing, ...dataDir()]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("refusing to overwrite");
    expect(await Bun.file(existing).text()).toBe("precious");

    const noDb = await cli(["backup", join(scratch, "x.db"), "--data-dir", join(scratch, "empty")]);
    expect(noDb.code).not.toBe(0);
    expect(noDb.stderr).toContain("no database");
    expect(existsSync(join(scratch, "x.db"))).toBe(false);
  });
});

describe("lifecycle signals", () => {
  test("SIGHUP is logged and ignored; healthcheck passes; SIGTERM then stops it cleanly with exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-sig-"));
    const probe = Bun.serve({ port: 0, fetch: () => new Response() });
    const port = probe.port!;
    probe.stop(true);
    const proc = Bun.spawn([process.execPath, "run", ENTRY, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dir], {
      env: cleanEnv(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = new Response(proc.stderr).text();
    try {
      const url = `http://127.0.0.1:${port}/health`;
      for (let i = 0; i < 200; i++) {
        const ok = await fetch(url).then((r) => r.ok, () => false);
        if (ok) break;
        await Bun.sleep(50);
      }
      const healthy = await cli(["healthcheck", "--port", String(port)]);
      expect(healthy.code).toBe(0);
      proc.kill("SIGHUP");
      await Bun.sleep(300);
      expect(proc.exitCode).toBeNull();
      expect((await fetch(url)).status).toBe(200);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const log = await stderr;
      expect(log).toContain("SIGHUP received");
      expect(log).toContain('"msg":"stopped"');
      const unhealthy = await cli(["healthcheck", "--port", String(port), "--timeout-ms", "500"]);
      expect(unhealthy.code).toBe(1);
    } finally {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
