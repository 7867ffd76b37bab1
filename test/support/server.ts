// The real server (HTTP + sockets) on port 0 with a fresh data directory, and direct looks at its
// database: seeded rows, fingerprints and the integrity check.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { users } from "../../src/db/schema";
import { startServer, type RunningServer } from "../../src/server";
import { client } from "./api";

export interface TestServer extends RunningServer {
  dataDir: string;
  close(): Promise<void>;
}

/** Starts the real server (HTTP + sockets) on a free port with a fresh database. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-test-"));
  const config: Config = {
    ...loadConfig([], {}),
    port: 0,
    host: "127.0.0.1",
    dataDir,
    logLevel: "silent",
    ...overrides,
  };
  const running = await startServer(config, silentLogger);
  return {
    ...running,
    dataDir,
    async close() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}


/** For a file that wants a new server per test (fresh limits, other settings): all are closed after the file. */
export function freshServers() {
  const servers: TestServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));
  return async (overrides: Partial<Config> = {}) => {
    const server = await startTestServer(overrides);
    servers.push(server);
    return { server, api: client(server.url) };
  };
}

/**
 * Inserts users straight into the database (no password hashing), for pagination tests that need
 * more users than is reasonable to sign up one by one. They cannot log in.
 */
export function seedUsers(server: TestServer, prefix: string, count: number): { id: string; username: string }[] {
  const at = Date.now();
  const rows = Array.from({ length: count }, (_, i) => {
    const username = `${prefix}${String(i).padStart(3, "0")}`;
    return {
      id: Bun.randomUUIDv7(),
      username,
      usernameKey: username.toLowerCase(),
      email: `${username}@seed.example`,
      emailKey: `${username}@seed.example`.toLowerCase(),
      passwordHash: "!",
      fullName: null,
      fullNameKey: null,
      createdAt: at,
      updatedAt: at,
    };
  });
  server.db.insert(users).values(rows).run();
  return rows.map((r) => ({ id: r.id, username: r.username }));
}

const TABLES = ["users", "conversations", "members", "messages"] as const;

/** Row counts plus a hash of every row of every table: equal fingerprints mean nothing changed. */
export function fingerprint(server: TestServer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = server.db.$client.query(`SELECT * FROM ${table} ORDER BY rowid`).all();
    out[table] = `${rows.length}:${Bun.hash(JSON.stringify(rows)).toString(16)}`;
  }
  return out;
}

export function integrityOk(server: TestServer) {
  const row = server.db.$client.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get();
  return row?.integrity_check === "ok";
}
