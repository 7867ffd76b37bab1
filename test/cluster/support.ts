// Three instances of the compiled binary on one PostgreSQL database and one Redis, each with its own
// data directory (only what goes through PostgreSQL and Redis is shared), all signing with one secret.
// `clusterSkipReason` says why a cluster file cannot run here (printed, then the suite is skipped).
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { client, type Api } from "../support/api";
import { ROOT, runToExit, startBinary, type RunningBinary } from "../support/binary";
import { postgresMissing, startPostgres, type TestPostgres } from "../support/postgres";
import { redisAvailable, TestRedis } from "../support/redis";

export const JWT_SECRET = "cluster-test-secret-0123456789abcdef0123456789";

/** The newest modification time under a directory (to tell a stale dist/chat-server). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * $CHAT_BINARY, else dist/chat-server when it is newer than src/; null otherwise. The cluster files
 * never build the binary themselves: CI builds it once and runs them with CHAT_BINARY set.
 */
function clusterBinary(): { path: string | null; why: string } {
  const given = process.env.CHAT_BINARY;
  if (given) {
    const path = resolve(ROOT, given);
    return existsSync(path) ? { path, why: "" } : { path: null, why: `CHAT_BINARY=${given} does not exist (run bun run build)` };
  }
  const dist = join(ROOT, "dist/chat-server");
  if (!existsSync(dist)) return { path: null, why: "no binary: run `bun run build`, then CHAT_BINARY=dist/chat-server bun test test/cluster/" };
  if (statSync(dist).mtimeMs < newestMtime(join(ROOT, "src"))) return { path: null, why: "dist/chat-server is older than src/: run `bun run build` (or set CHAT_BINARY)" };
  return { path: dist, why: "" };
}

/** Whether this build serves from PostgreSQL at all (earlier builds exit 2 saying they cannot). */
async function servesPostgres(bin: string): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "chat-cluster-probe-"));
  try {
    const probe = await runToExit(bin, ["serve", "--database-url", "postgres://127.0.0.1:1/none", "--jwt-secret", JWT_SECRET, "--data-dir", dir, "--port", "0"], { cwd: dir, timeoutMs: 10_000 });
    return /cannot serve from PostgreSQL/i.test(probe.stderr + probe.stdout) ? "this build cannot serve from PostgreSQL yet (serve --database-url exits 2)" : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const binary = clusterBinary();
export const clusterSkipReason: string | null =
  postgresMissing ?? (!redisAvailable ? "redis-server not found (scripts/ci-install-redis.sh)" : null) ?? (binary.path ? await servesPostgres(binary.path) : binary.why);
if (clusterSkipReason) console.warn(`skipping test/cluster: ${clusterSkipReason}`);

export interface Cluster {
  pg: TestPostgres;
  databaseUrl: string;
  redis: TestRedis;
  instances: RunningBinary[];
  /** Each instance's base URL, in start order (A, B, C). */
  urls: string[];
  /** Starts one more instance (or a replacement) on the same database and broker. */
  startInstance(): Promise<RunningBinary>;
  close(): Promise<void>;
}

/** PostgreSQL, Redis and `count` instances started one after another (the first applies the migrations). */
export async function startCluster(count = 3): Promise<Cluster> {
  const bin = binary.path!;
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const redis = await TestRedis.start();
  const dirs: string[] = [];
  const instances: RunningBinary[] = [];
  const startInstance = async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "chat-cluster-"));
    dirs.push(dataDir);
    const args = ["--host", "127.0.0.1", "--data-dir", dataDir, "--database-url", databaseUrl, "--broker-url", redis.url, "--jwt-secret", JWT_SECRET, "--rate-limit", "false"];
    const running = await startBinary(bin, { cwd: dataDir, args, readyTimeoutMs: 60_000 });
    instances.push(running);
    return running;
  };
  for (let i = 0; i < count; i++) await startInstance();
  return {
    pg,
    databaseUrl,
    redis,
    instances,
    get urls() {
      return instances.map((i) => i.url);
    },
    startInstance,
    async close() {
      await Promise.all(instances.map((i) => i.stop("SIGTERM")));
      await redis.stop();
      await pg.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster of three for the file's tests: started before the first, stopped after the last. */
export function clusterForFile(): { readonly cluster: Cluster; readonly apis: Api[] } {
  let cluster: Cluster | undefined;
  let apis: Api[] = [];
  beforeAll(async () => {
    cluster = await startCluster(3);
    apis = cluster.urls.map((url) => client(url));
  });
  afterAll(() => cluster?.close());
  return {
    get cluster() {
      return cluster!;
    },
    get apis() {
      return apis;
    },
  };
}
