// A real PostgreSQL for tests: initdb in a temporary directory, started on a free loopback port by
// pg_ctl, stopped (and the directory removed) after the file. PostgreSQL refuses to run as root, so
// as root the cluster belongs to `nobody`. Each test takes its own database from `createDatabase`.
import { afterAll } from "bun:test";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";

/** The directory of initdb/pg_ctl (any installed major version, newest first), or null. */
export function postgresBinDir(): string | null {
  if (process.env.CHAT_PG_BIN && existsSync(join(process.env.CHAT_PG_BIN, "pg_ctl"))) return process.env.CHAT_PG_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, "bin") : null;
}

/** Why the PostgreSQL tests cannot run here, or null. Files use it with describe.skipIf. */
export const postgresMissing: string | null = postgresBinDir()
  ? null
  : "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin or CHAT_PG_BIN): install them with scripts/ci-install-postgres.sh";
if (postgresMissing) console.warn(`skipping PostgreSQL tests: ${postgresMissing}`);

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

function run(cmd: string[], asUser: string | null): { ok: boolean; output: string } {
  const argv = asUser ? ["runuser", "-u", asUser, "--", ...cmd] : cmd;
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { ok: p.exitCode === 0, output: `${p.stdout.toString()}${p.stderr.toString()}` };
}

function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

let databases = 0;

/** Starts a throwaway cluster; stopped after the file. Throws when the binaries are missing. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresMissing!);
  const asUser = process.getuid?.() === 0 ? "nobody" : null;
  const dir = mkdtempSync(join(tmpdir(), "chat-pg-"));
  if (asUser) {
    const p = Bun.spawnSync(["id", "-u", asUser]);
    const uid = Number(p.stdout.toString().trim());
    chownSync(dir, uid, uid);
  }
  const data = join(dir, "data");
  const init = run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync", "-N"], asUser);
  if (!init.ok) throw new Error(`initdb failed: ${init.output}`);
  const port = freePort();
  // fsync off: a test cluster never has to survive a power loss, and the machine is shared.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const start = run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-o", options, "-w", "-t", "60", "start"], asUser);
  if (!start.ok) throw new Error(`pg_ctl start failed: ${start.output}`);
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    run([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], asUser);
    rmSync(dir, { recursive: true, force: true });
  };
  // pg_ctl leaves the server running on its own: a test process that dies must not leave it behind.
  process.once("exit", stopNow);
  const pg: TestPostgres = {
    url,
    async createDatabase() {
      const name = `chat_test_${process.pid}_${++databases}`;
      const admin = new SQL(url());
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.close();
      }
      return url(name);
    },
    async stop() {
      process.off("exit", stopNow);
      stopNow();
    },
  };
  return pg;
}

/** One cluster for the whole test file, started on first use and stopped after the file. */
export function sharedPostgres(): () => Promise<TestPostgres> {
  let started: Promise<TestPostgres> | null = null;
  afterAll(async () => {
    if (started) await (await started).stop();
  });
  return () => (started ??= startPostgres());
}
