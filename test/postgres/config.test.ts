// --database-url: validated at start, and refused without a configured JWT secret (exit 2), because
// instances sharing a database must all sign tokens with one secret. Unset keeps SQLite.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { requireSharedSecret } from "../../src/secret";

const ENTRY = resolve(import.meta.dir, "../../src/index.ts");
const SECRET = "s".repeat(20) + "0123456789abcdefghij";

describe("--database-url", () => {
  test("takes postgres:// and postgresql:// URLs from the flag or CHAT_DATABASE_URL; defaults to empty (SQLite)", () => {
    expect(loadConfig([], {}).databaseUrl).toBe("");
    expect(loadConfig(["--database-url", "postgres://chat:pw@db:5432/chat"], {}).databaseUrl).toBe("postgres://chat:pw@db:5432/chat");
    expect(loadConfig([], { CHAT_DATABASE_URL: "postgresql://db/chat" }).databaseUrl).toBe("postgresql://db/chat");
  });

  test("anything else stops the start naming the setting", () => {
    expect(() => loadConfig(["--database-url", "mysql://db/chat"], {})).toThrow(/--database-url must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(() => loadConfig([], { CHAT_DATABASE_URL: "not a url" })).toThrow(/CHAT_DATABASE_URL must be a postgres:\/\/.* URL/);
  });

  test("without --jwt-secret it is refused: a generated secret would differ per instance", () => {
    expect(() => requireSharedSecret({ databaseUrl: "postgres://db/chat", jwtSecret: "" })).toThrow(ConfigError);
    expect(() => requireSharedSecret({ databaseUrl: "postgres://db/chat", jwtSecret: "" })).toThrow(/--database-url .* needs --jwt-secret/);
    expect(() => requireSharedSecret({ databaseUrl: "postgres://db/chat", jwtSecret: SECRET })).not.toThrow();
    expect(() => requireSharedSecret({ databaseUrl: "", jwtSecret: "" })).not.toThrow();
  });

  test("serve with --database-url and no secret exits 2 with the reason, before creating anything in the data directory", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "chat-pgcfg-")), "data");
    try {
      const proc = Bun.spawn([process.execPath, "run", ENTRY, "serve", "--port", "0", "--data-dir", dataDir, "--database-url", "postgres://127.0.0.1:1/chat"], {
        env: { PATH: process.env.PATH ?? "" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(2);
      expect(stderr).toContain("needs --jwt-secret");
      expect(existsSync(join(dataDir, "jwt-secret"))).toBe(false);
    } finally {
      rmSync(join(dataDir, ".."), { recursive: true, force: true });
    }
  });

  test("serve with --database-url and a secret but no PostgreSQL there exits 2 naming the URL, and writes no SQLite data", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "chat-pgcfg-")), "data");
    try {
      const proc = Bun.spawn([process.execPath, "run", ENTRY, "serve", "--port", "0", "--data-dir", dataDir, "--database-url", "postgres://127.0.0.1:1/chat"], {
        env: { PATH: process.env.PATH ?? "", CHAT_JWT_SECRET: "k".repeat(20) + "0123456789abcdefghijklmnopqrstuv" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(2);
      expect(stderr).toContain("cannot connect to the database postgres://127.0.0.1:1/chat");
      expect(existsSync(join(dataDir, "chat.db"))).toBe(false);
    } finally {
      rmSync(join(dataDir, ".."), { recursive: true, force: true });
    }
  });

  test("backup with --database-url exits 2 pointing at pg_dump", async () => {
    const proc = Bun.spawn([process.execPath, "run", ENTRY, "backup", "/nonexistent/chat.db", "--database-url", "postgres://127.0.0.1:1/chat"], {
      env: { PATH: process.env.PATH ?? "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain("back it up with pg_dump");
  });
});
