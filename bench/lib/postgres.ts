// A PostgreSQL for bench --cluster: like the tests' (test/support/postgres.ts) but durable (fsync,
// synchronous_commit and full_page_writes at their defaults), since it is compared with SQLite at
// synchronous=FULL. Its processes are found by port for the CPU breakdown.
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { postgresBinDir } from "../../test/support/postgres";
import { freePort, pidsMatching } from "./util";

export interface BenchPostgres {
  port: number;
  /** A new empty database's URL. */
  createDatabase(name: string): Promise<string>;
  /** The postmaster and every backend. */
  pids(): number[];
  stop(): void;
}

export async function startDurablePostgres(): Promise<BenchPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin or CHAT_PG_BIN): scripts/ci-install-postgres.sh");
  // PostgreSQL refuses to run as root.
  const owner = process.getuid?.() === 0 ? "nobody" : null;
  const as = (cmd: string[]) => (owner ? ["runuser", "-u", owner, "--", ...cmd] : cmd);
  const sh = (cmd: string[]) => {
    const p = Bun.spawnSync(as(cmd), { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${p.stdout}${p.stderr}`);
  };
  const dir = mkdtempSync(join(tmpdir(), "bench-pg-"));
  if (owner) {
    const uid = Number(Bun.spawnSync(["id", "-u", owner]).stdout.toString().trim());
    chownSync(dir, uid, uid);
  }
  const data = join(dir, "data");
  sh([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8"]);
  const port = await freePort();
  sh([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`, "-w", "-t", "60", "start"]);
  let postmaster = 0;
  const stop = () => {
    Bun.spawnSync(as([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]));
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  return {
    port,
    async createDatabase(name) {
      const admin = new SQL(`postgres://postgres@127.0.0.1:${port}/postgres`);
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.close();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    pids() {
      postmaster ||= pidsMatching((cmd) => cmd.includes(`-D ${data}`) && cmd.includes("postgres"))[0] ?? 0;
      return postmaster ? [postmaster, ...pidsMatching((_, ppid) => ppid === postmaster)] : [];
    },
    stop() {
      process.off("exit", stop);
      stop();
    },
  };
}
