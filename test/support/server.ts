// The real server (HTTP + sockets) on port 0 with a fresh data directory, and direct looks at its
// database: seeded rows, fingerprints and the integrity check. With CHAT_TEST_POSTGRES=1 each server
// gets a fresh database on one PostgreSQL cluster shared by the whole test run (and a JWT secret, as
// --database-url requires); the data directory then holds only files, the lock and the secret.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { users } from "../../src/db/schema";
import { startServer, type RunningServer } from "../../src/server";
import { users as pgUsers } from "../../src/storage/postgres/schema";
import { client } from "./api";
import { startPostgres, type TestPostgres } from "./postgres";

/** CHAT_TEST_POSTGRES=1: the suite runs on PostgreSQL. */
export const onPostgres = process.env.CHAT_TEST_POSTGRES === "1";

/** Why a test that reads the SQLite file directly is skipped on PostgreSQL (test.skipIf(sqliteOnly)). */
export function sqliteOnly(reason: string): boolean {
  if (onPostgres) console.warn(`skipped on PostgreSQL: ${reason}`);
  return onPostgres;
}

const TEST_JWT_SECRET = "test-secret-".repeat(4);
let cluster: Promise<TestPostgres> | null = null;

/** The database settings of a new test server: none on SQLite, a fresh database on PostgreSQL. */
async function databaseOverrides(): Promise<Partial<Config>> {
  if (!onPostgres) return {};
  // One cluster per test process (pg_ctl's exit hook stops it); a database per server.
  const pg = await (cluster ??= startPostgres());
  return { databaseUrl: await pg.createDatabase(), jwtSecret: TEST_JWT_SECRET };
}

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
    ...(await databaseOverrides()),
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
export async function seedUsers(server: TestServer, prefix: string, count: number): Promise<{ id: string; username: string }[]> {
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
  if (server.pg) await server.pg.insert(pgUsers).values(rows);
  else server.db.insert(users).values(rows).run();
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
