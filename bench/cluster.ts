// `bun run bench --cluster [--quick] [--skip-build] [--write]`: W1–W3 against the SQLite single
// process (without and with the Redis broker), then 1 and 3 instances on PostgreSQL + Redis, in one run and on the same cores (every
// server-side process on the server core, the generator on the other), reporting delivered/s and
// p99 per setup and which part spent the CPU (instances, postgres, redis, from /proc). Not part of
// the default `bun run bench`.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUsers } from "./lib/api";
import { startDurablePostgres, type BenchPostgres } from "./lib/postgres";
import { freePort, GENERATOR_CORE, log, pidsMatching, pin, pinning, type Proc, SERVER_CORE, spawnProc, unpin, waitReady } from "./lib/util";
import { bigRoom, logChat, saturation, steadyChat, type Target } from "./scenarios/chat";
import { serverCommand } from "./scenarios/startup";
import { REDIS_SERVER, TestRedis } from "../test/support/redis";

export interface ClusterParams {
  users: number;
  signupConcurrency: number;
  w1Groups: number;
  w1GroupSize: number;
  w1Rate: number;
  w1Warmup: number;
  w1Duration: number;
  w2Groups: number;
  w2GroupSize: number;
  w2Windows: string;
  w2Warmup: number;
  w2Step: number;
  w3Members: number;
  w3Rate: number;
  w3Warmup: number;
  w3Duration: number;
}

/** sqlite+redis ×1 isolates the broker's cost (every event appended to the stream) from PostgreSQL's. */
export const SETUPS = [
  { name: "sqlite ×1", instances: 1, postgres: false, broker: false },
  { name: "sqlite+redis ×1", instances: 1, postgres: false, broker: true },
  { name: "postgres+redis ×1", instances: 1, postgres: true, broker: true },
  { name: "postgres+redis ×3", instances: 3, postgres: true, broker: true },
] as const;
type Setup = (typeof SETUPS)[number];

const SECRET = "bench-cluster-secret-0123456789abcdef0123456789";

interface Running {
  target: Target;
  stop(): Promise<void>;
}

/** Starts one setup (its own data dirs and database), signs up the users, pins every server-side process. */
async function startSetup(setup: Setup, binary: string, work: string, pg: BenchPostgres | null, redis: TestRedis | null, p: ClusterParams, index: number): Promise<Running> {
  const procs: Proc[] = [];
  const shared = [
    ...(setup.postgres ? ["--database-url", await pg!.createDatabase(`bench_${index}`), "--jwt-secret", SECRET] : []),
    ...(setup.broker ? ["--broker-url", redis!.url] : []),
  ];
  const ports: number[] = [];
  for (let i = 0; i < setup.instances; i++) {
    const port = await freePort();
    const proc = spawnProc(serverCommand(binary, join(work, `setup${index}-${i}`), port, shared));
    procs.push(proc);
    await waitReady(`http://127.0.0.1:${port}/health`, proc, performance.now(), 60_000);
    ports.push(port);
  }
  const redisPids = () => (redis ? pidsMatching((cmd) => cmd.includes(REDIS_SERVER.split("/").pop()!) && cmd.includes(`:${redis.port}`)) : []);
  const target: Target = {
    kind: "ours",
    base: `http://127.0.0.1:${ports[0]}`,
    wsUrl: `ws://127.0.0.1:${ports[0]}/api/v1/ws`,
    wsUrls: ports.map((port) => `ws://127.0.0.1:${port}/api/v1/ws`),
    pid: procs[0]!.pid,
    users: [],
    parts: () => ({ instances: procs.map((x) => x.pid), ...(setup.postgres ? { postgres: pg!.pids() } : {}), ...(setup.broker ? { redis: redisPids() } : {}) }),
  };
  const t0 = performance.now();
  target.users = await createUsers(target.base, p.users, `c${index}${Date.now().toString(36)}`, p.signupConcurrency);
  log(`${setup.name}: ${p.users} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const serverSide = () => Object.values(target.parts!()).flat();
  for (const pid of serverSide()) pin(pid, SERVER_CORE);
  return {
    target,
    async stop() {
      for (const pid of serverSide()) unpin(pid);
      for (const proc of procs) await proc.stop("SIGTERM", 10_000);
    },
  };
}

/** The part that spent the most CPU in a measuring window, and its share of the server side's. */
function limitingPart(r: any): string {
  const by: Record<string, number> = r?.cpu_percent_by_part ?? {};
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  const [name, pct] = Object.entries(by).sort((a, b) => b[1] - a[1])[0] ?? ["?", 0];
  return total ? `${name} (${Math.round((100 * pct) / total)} % of ${Math.round(total)} % CPU)` : "—";
}

function w2Best(r: any) {
  return r.steps.reduce((a: any, b: any) => (b.delivered_per_s > a.delivered_per_s ? b : a));
}

export async function runClusterBench(binary: string, p: ClusterParams, errors: string[]) {
  if (!pinning) log("note: not pinned (one core, no taskset, or BENCH_NO_PIN): server side and generator share the cores");
  log(`pinning: every server-side process (instances, postgres, redis) on core ${SERVER_CORE}, the generator on core ${GENERATOR_CORE}`);
  const work = mkdtempSync(join(tmpdir(), "bench-cluster-"));
  const pg = await startDurablePostgres();
  const redis = await TestRedis.start();
  pin(process.pid, GENERATOR_CORE);
  const results: Record<string, any> = {};
  try {
    for (const [index, setup] of SETUPS.entries()) {
      const entry: Record<string, any> = {};
      results[setup.name] = entry;
      let running: Running;
      try {
        running = await startSetup(setup, binary, work, setup.postgres ? pg : null, setup.broker ? redis : null, p, index);
      } catch (error) {
        const msg = `${setup.name} did not start: ${error instanceof Error ? error.message : String(error)}`;
        errors.push(msg);
        entry.error = msg;
        log(msg);
        continue;
      }
      const t = running.target;
      const scenarios: [string, () => Promise<any>][] = [
        ["W1", () => steadyChat(t, { groups: p.w1Groups, groupSize: p.w1GroupSize, ratePerSocket: p.w1Rate, warmup: p.w1Warmup, duration: p.w1Duration })],
        ["W2", () => saturation(t, { groups: p.w2Groups, groupSize: p.w2GroupSize, windows: p.w2Windows.split(",").map(Number), warmup: p.w2Warmup, stepDuration: p.w2Step })],
        ["W3", () => bigRoom(t, { members: p.w3Members, rate: p.w3Rate, warmup: p.w3Warmup, duration: p.w3Duration })],
      ];
      for (const [name, run] of scenarios) {
        log(`${name} on ${setup.name}`);
        try {
          const r = await run();
          entry[name] = r;
          logChat(name, setup.name, r);
          if (r.totals?.unacked) errors.push(`${name} ${setup.name}: ${r.totals.unacked} sends never acknowledged`);
          if (r.unexpected_closes) errors.push(`${name} ${setup.name}: ${r.unexpected_closes} sockets closed by the server`);
        } catch (error) {
          const msg = `${name} ${setup.name} failed: ${error instanceof Error ? error.message : String(error)}`;
          errors.push(msg);
          entry[name] = { error: msg };
          log(msg);
        }
      }
      await running.stop();
    }
  } finally {
    unpin(process.pid);
    await redis.stop();
    pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rows = summarize(results);
  console.log("\n" + rows.map((r) => r.join(" | ")).join("\n") + "\n");
  return { results, rows };
}

/** One row per setup and scenario: delivered/s, p99 delivery, CPU µs per delivery by part, the limiting part. */
export function summarize(results: Record<string, any>): string[][] {
  const header = ["setup", "scenario", "delivered/s", "delivery p99 ms", "CPU µs/delivery: instances / postgres / redis", "most CPU", "other load on the server core"];
  const rows = [header];
  for (const [setup, entry] of Object.entries(results)) {
    if (entry.error) {
      // The server's own message (its "chat-server: …" line) says why better than the spawn error.
      const why = /^chat-server: (.*)$/m.exec(entry.error)?.[1] ?? entry.error.split("\n")[0];
      rows.push([setup, "W1–W3", `not run: ${why.slice(0, 120)}`, "", "", "", ""]);
      continue;
    }
    for (const name of ["W1", "W2", "W3"]) {
      const r = entry[name];
      if (!r || r.error) {
        rows.push([setup, name, "error", "", "", "", ""]);
        continue;
      }
      const m = name === "W2" ? w2Best(r) : r;
      const label = name === "W2" ? `W2 (${m.window} in flight/socket)` : name === "W3" ? "W3 (last member)" : name;
      const p99 = name === "W3" ? r.fanout_last_member_ms.p99 : m.delivery_ms.p99;
      const us = m.cpu_us_per_delivery_by_part ?? {};
      const ours = Object.values((m.cpu_percent_by_part ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
      const other = Math.max(0, (m.core_busy_percent?.[SERVER_CORE] ?? 0) - ours);
      rows.push([setup, label, String(Math.round(m.delivered_per_s)), String(Math.round(p99 * 10) / 10), ["instances", "postgres", "redis"].map((k) => us[k] ?? "–").join(" / "), limitingPart(m), `${Math.round(other)} %`]);
    }
  }
  return rows;
}

const BEGIN = "<!-- bench-cluster:begin";
const END = "<!-- bench-cluster:end -->";

/** Rewrites the cluster section of BENCHMARKS.md (between its markers, else appended); the analysis stays outside. */
export function writeClusterSection(path: string, rows: string[][], meta: { command: string; startedAt: string; machine: string; params: ClusterParams }) {
  const table = [`| ${rows[0]!.join(" | ")} |`, `|${rows[0]!.map((_, i) => (i >= 2 && i <= 3 ? "--:" : "---")).join("|")}|`, ...rows.slice(1).map((r) => `| ${r.join(" | ")} |`)].join("\n");
  const p = meta.params;
  const section = `${BEGIN} (generated by bun run bench --cluster; edit outside these markers) -->
### Latest \`bun run bench --cluster\` run

- **Command:** \`${meta.command}\`, ${meta.startedAt}; ${meta.machine}
- Every server-side process (the instances, PostgreSQL with fsync and synchronous_commit on, Redis without persistence) pinned to one core, the generator to the other; sockets spread round robin over the instances, so each group of W1/W2 and W3's room has members on every instance.
- Sizes: W1 ${p.w1Groups}×${p.w1GroupSize} sockets at ${p.w1Rate} msg/s each, ${p.w1Duration} s; W2 ${p.w2Groups}×${p.w2GroupSize} sockets, ${p.w2Windows} in flight per socket, best step shown; W3 one ${p.w3Members}-member room at ${p.w3Rate} msg/s, ${p.w3Duration} s.
- CPU µs per delivery: CPU seconds of each part over the measuring window divided by \`new_message\` frames delivered; "most CPU" is the part that spent most of the server core; "other load" is what processes outside the setup (other work on this shared machine) took of the server core meanwhile.

${table}
${END}`;
  let doc = existsSync(path) ? readFileSync(path, "utf8") : "";
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  doc = begin >= 0 && end > begin ? doc.slice(0, begin) + section + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n## Several instances: PostgreSQL + Redis (bench --cluster)\n\n${section}\n`;
  writeFileSync(path, doc);
}
