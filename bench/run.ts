// `bun run bench [--quick] [--only W1,W3] [--skip-build] [--no-write] [--profile] [--cluster] [--<param> <value>]`
// (--cluster: W1–W3 on SQLite and on 1 and 3 instances over PostgreSQL + Redis instead, bench/cluster.ts)
// Builds the binary, starts it on a fresh data dir beside the ceiling (bench/ceiling-server.ts), runs
// W1–W11 against both in the same run (W6, W7 and W11 against their own same-run baselines, W8–W10 on
// ours only), prints ours / ceiling, writes JSON to bench/results/ and (full runs) the table and chart
// into BENCHMARKS.md. Fails only on errors, never on timings.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { call, createGroup, createUsers } from "./lib/api";
import { BUN, cores, fmtBytes, freePort, GENERATOR_CORE, hasTaskset, log, machineInfo, pin, pinning, type Proc, SERVER_CORE, spawnProc, unpin, waitReady } from "./lib/util";
import { markdownTable, consoleTable, summaryRows, svgChart } from "./report";
import { capacity } from "./scenarios/capacity";
import { bigRoom, logChat, saturation, steadyChat, type Target } from "./scenarios/chat";
import { hasWrk, load, seedHistory } from "./scenarios/rest";
import { searchBench } from "./scenarios/search";
import { DB_FILE, serverCommand, startup } from "./scenarios/startup";
import { summarizeProfile } from "./profile-summary";
import { webhookDelivery } from "./scenarios/webhooks";
import { filesBench } from "./scenarios/files";
import { mixedWorkload } from "./scenarios/life";
import { reconnectStorm } from "./scenarios/storm";
import { runClusterBench, writeClusterSection } from "./cluster";

const ROOT = resolve(import.meta.dir, "..");
const BENCH = import.meta.dir;

/** Every size and duration; seconds for durations. Override any with --kebab-name value. */
const FULL = {
  users: 1000,
  signupConcurrency: 8,
  w1Groups: 100,
  w1GroupSize: 10,
  w1Rate: 1,
  w1Warmup: 3,
  w1Duration: 20,
  w2Groups: 20,
  w2GroupSize: 10,
  w2Windows: "1,4,16",
  w2Warmup: 1,
  w2Step: 6,
  w3Members: 1000,
  w3Rate: 100,
  w3Warmup: 3,
  w3Duration: 20,
  w4Sockets: 10000,
  w4Workers: 2,
  w4Idle: 65,
  w4Concurrency: 400,
  w5Rows: 100_000,
  w5Duration: 10,
  w5Connections: 32,
  w6Rows: 1_000_000,
  w6Repeats: 5,
  /** W8 runs W2's loop (its groups, warmup and step) at this window, without and with one webhook. */
  w8Window: 16,
  /** W8's steady phase: REST sends per second over 4 conversations, and for how long. */
  w8Rate: 200,
  w8Duration: 10,
  /** W7 search: corpus sizes measured in turn (the same database grows), comma-separated. */
  w7Sizes: "100000,1000000",
  w7Conversations: 1000,
  w7SearcherIn: 50,
  w7Searchers: 10,
  w7Warmup: 2,
  w7Duration: 10,
  w7Vocabulary: 20000,
  /** W11 files: bytes per file, files uploaded (then downloaded) at once, rounds (medians reported). */
  w11Size: 25 * 2 ** 20,
  w11Concurrency: 8,
  w11Rounds: 3,
  /** W9 mixed workload (ours only, beside plain W2 at 1 in flight): groups of senders plus one churn member each. */
  w9Groups: 20,
  w9GroupSize: 10,
  w9Warmup: 2,
  w9Duration: 10,
  /** Milliseconds between membership changes (a member removed, later re-added). */
  w9ChurnEveryMs: 500,
  /** W10 reconnect storm: clients in groups of 10, what happens while they are offline, and a cap on the wait. */
  w10Clients: 1000,
  w10Messages: 10_000,
  w10Edits: 2_000,
  w10Writers: 16,
  w10Timeout: 180,
  /** Extra flags for our server, e.g. "--synchronous NORMAL" to measure what fsync costs. */
  serverArgs: "",
};
type Params = typeof FULL;
const QUICK: Params = {
  ...FULL,
  users: 100,
  w1Groups: 10,
  w1Warmup: 1,
  w1Duration: 4,
  w2Groups: 5,
  w2Windows: "1,4",
  w2Step: 3,
  w3Members: 100,
  w3Rate: 50,
  w3Warmup: 1,
  w3Duration: 4,
  w4Sockets: 1000,
  w4Workers: 1,
  w4Idle: 2,
  w5Rows: 10_000,
  w5Duration: 3,
  w6Rows: 50_000,
  w6Repeats: 3,
  w8Window: 1,
  w8Rate: 100,
  w8Duration: 3,
  w7Sizes: "5000,20000",
  w7Conversations: 100,
  w7SearcherIn: 5,
  w7Warmup: 1,
  w7Duration: 2,
  w11Size: 2 ** 20,
  w11Rounds: 1,
  w9Groups: 5,
  w9Warmup: 1,
  w9Duration: 3,
  w10Clients: 100,
  w10Messages: 1_000,
  w10Edits: 200,
  w10Timeout: 40,
};

const kebab = (k: string) => "--" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

function parseArgs(argv: string[]) {
  const flags = { quick: false, only: null as Set<string> | null, skipBuild: false, write: null as boolean | null, profile: false, cluster: false };
  const quick = argv.includes("--quick");
  const params: Params = { ...(quick ? QUICK : FULL) };
  const byFlag = new Map(Object.keys(FULL).map((k) => [kebab(k), k as keyof Params]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") flags.quick = true;
    else if (a === "--skip-build") flags.skipBuild = true;
    else if (a === "--no-write") flags.write = false;
    else if (a === "--write") flags.write = true;
    else if (a === "--profile") flags.profile = true;
    else if (a === "--cluster") flags.cluster = true;
    else if (a === "--only") flags.only = new Set(argv[++i]!.toUpperCase().split(","));
    else if (byFlag.has(a)) {
      const key = byFlag.get(a)!;
      const raw = argv[++i]!;
      (params as Record<string, unknown>)[key] = typeof FULL[key] === "number" ? Number(raw) : raw;
      if (typeof FULL[key] === "number" && !Number.isFinite(params[key] as number)) throw new Error(`${a} needs a number`);
    } else if (a === "--help") {
      console.log(`bun run bench [--quick] [--only W1,W2,...] [--skip-build] [--write|--no-write] [--profile] [--cluster]\n` + Object.keys(FULL).map((k) => `  ${kebab(k)} (${(FULL as any)[k]})`).join("\n"));
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return { flags, params };
}

const { flags, params } = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error));
    process.exit(2);
  }
})();
/** --profile runs only the scenarios under the profiler: W2 unless --only names others. */
const wants = (s: string) => (flags.profile && !flags.only ? s === "W2" : !flags.only || flags.only.has(s));
const command = ["bun run bench", ...process.argv.slice(2)].join(" ");
const mode = (flags.cluster ? "cluster-" : "") + (flags.profile ? "profile" : flags.quick ? "quick" : "full");

const procs: Proc[] = [];
const tempDirs: string[] = [];
async function cleanup() {
  for (const p of procs) await p.stop("SIGTERM", 5000).catch(() => {});
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

const errors: string[] = [];
const warnings: string[] = [];
function check(name: string, r: any) {
  if (!r) return;
  if (r.error_frames) errors.push(`${name}: ${r.error_frames} error frames, e.g. ${r.error_samples?.[0]}`);
  if (r.unexpected_closes) errors.push(`${name}: ${r.unexpected_closes} sockets closed by the server (${JSON.stringify(r.close_codes ?? {})})`);
  if (r.totals?.unacked) errors.push(`${name}: ${r.totals.unacked} sends never acknowledged`);
  if (r.totals?.missing_deliveries) warnings.push(`${name}: ${r.totals.missing_deliveries} expected deliveries did not arrive`);
  if (r.connect_failures) errors.push(`${name}: ${r.connect_failures} sockets failed to connect: ${r.first_failure}`);
  for (const k of ["get", "post"]) {
    if (r[k]?.non_2xx) errors.push(`${name} ${k}: ${r[k].non_2xx} non-2xx responses`);
    if (r[k]?.socket_errors) errors.push(`${name} ${k}: ${r[k].socket_errors} socket errors`);
  }
  const foreign = Math.max(r.foreign_load_on_server_core_percent ?? 0, ...(r.steps ?? []).map((s: any) => s.foreign_load_on_server_core_percent ?? 0));
  if (foreign >= 15) warnings.push(`${name}: other processes took up to ${foreign}% of the server core during the measurement (shared machine), so this figure is noisy`);
  const gen = r.generator_cpu_percent ?? Math.max(0, ...(r.steps ?? []).map((s: any) => s.generator_cpu_percent ?? 0));
  if (gen >= 90) warnings.push(`${name}: the generator core was ${gen}% busy, so this figure may be capped by the generator`);
}

async function main() {
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const notes = [
    pinning
      ? `pinned with taskset: servers on core ${SERVER_CORE}, generator (this process, wrk, socket workers) on core ${GENERATOR_CORE}`
      : process.env.BENCH_NO_PIN
        ? "not pinned (BENCH_NO_PIN): server and generator share all cores"
        : hasTaskset
          ? `not pinned: only ${cores} core(s)`
          : "not pinned: taskset not found, server and generator share cores",
    "our server runs with --rate-limit false (its per-socket frame and login limits would throttle the generator); everything else at defaults (synchronous=FULL, auth, validation, ack after commit)",
    `REST load tool: ${hasWrk ? "wrk (1 thread)" : "Bun fetch closed loop (wrk not installed: apt-get install -y wrk)"}`,
    "user setup (argon2 signups and logins) runs on all cores; measuring runs pinned",
    ...(params.serverArgs ? [`extra server flags: ${params.serverArgs}`] : []),
  ];
  log(`bench ${mode}: ${command}`);
  log(`machine: ${machine.nproc} cores, ${machine.cpu_model}, ${machine.memory_gib} GiB; bun ${machine.bun}; commit ${machine.git_commit.slice(0, 12)}${machine.git_src_dirty ? " (src has uncommitted changes)" : ""}`);
  for (const n of notes) log(`note: ${n}`);

  const binary = join(ROOT, "dist/chat-server");
  const work = mkdtempSync(join(tmpdir(), "bench-"));
  tempDirs.push(work);
  if (!flags.skipBuild && !flags.profile) {
    log("building the binary: bun run build");
    const b = Bun.spawnSync([BUN, "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if (b.exitCode !== 0) throw new Error("bun run build failed");
  }
  const hello = join(work, "hello-server");
  if (wants("W6") && !flags.profile && !flags.cluster) {
    const b = Bun.spawnSync([BUN, "build", join(BENCH, "hello-server.ts"), "--compile", "--outfile", hello], { stdout: "ignore", stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`compiling hello-server failed: ${b.stderr}`);
  }

  if (flags.cluster) return clusterRun(binary, machine, startedAt, notes);

  const scenarios: Record<string, { ours?: any; ceiling?: any; detail?: any; error?: string } | undefined> = {};
  const needsServers = ["W1", "W2", "W3", "W4", "W5", "W8", "W9", "W10"].some(wants);
  let profileFile: string | null = null;

  if (needsServers) {
    const dataDir = join(work, "data");
    const ourPort = await freePort();
    const perUser = Math.ceil(params.w4Sockets / params.users);
    const extra = [
      ...(perUser > 20 ? ["--ws-max-sockets-per-user", String(perUser)] : []),
      // W8's receiver runs on loopback; with no hook registered the setting changes nothing.
      ...(wants("W8") ? ["--webhook-allow-private", "true"] : []),
      // W10's clients all come from 127.0.0.1; in production a storm comes from many addresses, so the
      // per-address cap on sockets awaiting their token (500) would refuse half of them here.
      ...(wants("W10") && params.w10Clients > 500 ? ["--ws-max-pending-per-address", String(params.w10Clients)] : []),
      ...params.serverArgs.split(/\s+/).filter(Boolean),
    ];
    const profileDir = join(BENCH, "results", "profiles");
    if (flags.profile) mkdirSync(profileDir, { recursive: true });
    const ourCmd = flags.profile
      ? [BUN, "--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-md", join(ROOT, "src/index.ts"), ...serverCommand("", dataDir, ourPort, extra).slice(1)]
      : serverCommand(binary, dataDir, ourPort, extra);
    const ours = spawnProc(ourCmd, { cwd: ROOT });
    procs.push(ours);
    await waitReady(`http://127.0.0.1:${ourPort}/health`, ours);
    const ceilPort = await freePort();
    const ceiling = flags.profile ? null : spawnProc([BUN, join(BENCH, "ceiling-server.ts"), "--port", String(ceilPort)]);
    if (ceiling) {
      procs.push(ceiling);
      await waitReady(`http://127.0.0.1:${ceilPort}/health`, ceiling);
    }
    const target = (kind: "ours" | "ceiling", port: number, pid: number): Target => ({
      kind,
      base: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/api/v1/ws`,
      pid,
      users: [],
    });
    const targets: Target[] = [target("ours", ourPort, ours.pid)];
    if (ceiling) targets.push(target("ceiling", ceilPort, ceiling.pid));

    for (const t of targets) {
      const t0 = performance.now();
      t.users = await createUsers(t.base, params.users, `${t.kind}${Date.now().toString(36)}`, params.signupConcurrency, (n) =>
        log(`  ${t.kind}: ${n}/${params.users} users`),
      );
      log(`${t.kind}: ${params.users} users signed up and logged in in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (const t of targets) pin(t.pid, SERVER_CORE);
    pin(process.pid, GENERATOR_CORE);

    const profiled = { fromMs: 0, toMs: 0 };
    const both = async (name: string, fn: (t: Target) => Promise<any>) => {
      if (!wants(name)) return;
      const entry: { ours?: any; ceiling?: any; error?: string } = {};
      scenarios[name] = entry;
      for (const t of targets) {
        log(`${name} on ${t.kind}`);
        try {
          if (t.kind === "ours") profiled.fromMs ||= Date.now();
          entry[t.kind] = await fn(t);
          if (t.kind === "ours") profiled.toMs = Date.now();
          check(`${name} ${t.kind}`, entry[t.kind]);
        } catch (error) {
          const msg = `${name} ${t.kind} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
          errors.push(msg);
          entry.error = msg;
          log(msg);
        }
        if (t.kind === "ours" && ours.proc.exitCode !== null) throw new Error(`our server exited (${ours.proc.exitCode}):\n${ours.stderrTail()}`);
      }
    };

    /** A scenario only our server can run (the ceiling lacks the features); errors are recorded, not thrown. */
    const oursOnly = async (name: string, fn: (t: Target) => Promise<{ ours: any; ceiling?: any; detail?: any }>, checked: (r: any) => any) => {
      if (!wants(name) || flags.profile) return;
      log(`${name} on ours`);
      try {
        const entry = await fn(targets[0]!);
        scenarios[name] = entry;
        check(`${name} ours`, checked(entry));
      } catch (error) {
        const msg = `${name} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
        errors.push(msg);
        scenarios[name] = { error: msg };
        log(msg);
      }
      if (ours.proc.exitCode !== null) throw new Error(`our server exited (${ours.proc.exitCode}):\n${ours.stderrTail()}`);
    };

    await both("W1", async (t) => {
      const r = await steadyChat(t, { groups: params.w1Groups, groupSize: params.w1GroupSize, ratePerSocket: params.w1Rate, warmup: params.w1Warmup, duration: params.w1Duration });
      logChat("W1", t.kind, r);
      return r;
    });
    await both("W2", async (t) => {
      const windows = params.w2Windows.split(",").map(Number);
      const r = await saturation(t, { groups: params.w2Groups, groupSize: params.w2GroupSize, windows, warmup: params.w2Warmup, stepDuration: params.w2Step });
      logChat("W2", t.kind, r);
      return r;
    });
    // W9 and W10 (ours only) before W4/W3 for the same reason: W3's room would make every reconnect
    // announce presence to 999 contacts.
    await oursOnly("W9", async (t) => {
      const r = await mixedWorkload(t, { groups: params.w9Groups, groupSize: params.w9GroupSize, warmup: params.w9Warmup, duration: params.w9Duration, churnEveryMs: params.w9ChurnEveryMs });
      const m = r.mixed;
      log(`  W9 mixed: ${m.delivered_per_s} delivered/s (${m.new_message_per_s} new + ${m.message_updated_per_s} updated), ack p50/p99 ${m.ack_ms.p50}/${m.ack_ms.p99} ms, delivery p50/p99 ${m.delivery_ms.p50}/${m.delivery_ms.p99} ms, server cpu ${m.server_cpu_percent}%; plain W2 ${r.plain.delivered_per_s}/s; ratio ${r.ratio_delivered}`);
      check("W9 plain W2", r.plain_detail);
      if (m.rest_errors) errors.push(`W9: ${m.rest_errors} failed REST calls, e.g. ${m.rest_error_samples[0]}`);
      return { ours: m, ceiling: r.plain, detail: r };
    }, (r) => r.ours);
    await oursOnly("W10", async (t) => {
      const r = await reconnectStorm(t, { clients: params.w10Clients, groupSize: 10, messages: params.w10Messages, edits: params.w10Edits, writers: params.w10Writers, timeout: params.w10Timeout });
      log(`  W10: ${r.clients} clients converged in ${r.converge_all_ms} ms (median ${r.converge_median_ms} ms), server cpu ${r.server_cpu_percent}%, ${fmtBytes(r.bytes_per_client.mean)}/client mean, p99 ${fmtBytes(r.bytes_per_client.p99 ?? 0)}, ${r.not_converged} not converged`);
      if (r.reconnects_needed) warnings.push(`W10: ${r.reconnects_needed} sockets closed before catching up and reconnected, e.g. ${r.error_samples[0]}`);
      if (r.not_converged) errors.push(`W10: ${r.not_converged} clients did not converge, e.g. ${r.mismatch_samples[0]}`);
      if (r.rest_errors) errors.push(`W10: ${r.rest_errors} failed REST calls while offline, e.g. ${r.rest_error_samples[0]}`);
      return { ours: r };
    }, (r) => r.ours);
    // W4 before W3: W3's 1,000-member room makes every user a contact of every other, so each
    // socket's presence would then reach everyone, which is W3's cost, not W4's.
    await both("W4", async (t) => {
      const r = await capacity(t, { sockets: params.w4Sockets, workers: params.w4Workers, idle: params.w4Idle, concurrency: params.w4Concurrency });
      log(`  W4 ${t.kind}: ${r.sockets_held_after_idle} held, connect ${r.connect_all_ms} ms, ${fmtBytes(r.rss_per_socket_bytes ?? 0)}/socket, idle cpu ${r.idle_cpu_percent}%`);
      return r;
    });
    await both("W3", async (t) => {
      const r = await bigRoom(t, { members: params.w3Members, rate: params.w3Rate, warmup: params.w3Warmup, duration: params.w3Duration });
      log(`  W3 ${t.kind}: last member p50 ${r.fanout_last_member_ms.p50} ms p99 ${r.fanout_last_member_ms.p99} ms, ${r.delivered_per_s} delivered/s, gen cpu ${r.generator_cpu_percent}%`);
      return r;
    });
    await both("W5", async (t) => {
      const [a, b] = t.users;
      const history = await createGroup(t.base, [a!, b!], `w5-history-${t.kind}`);
      const posts = await createGroup(t.base, [a!, b!], `w5-post-${t.kind}`);
      if (t.kind === "ours") {
        const s = performance.now();
        seedHistory(join(dataDir, DB_FILE), history, a!.id, params.w5Rows);
        log(`  seeded ${params.w5Rows} messages in ${((performance.now() - s) / 1000).toFixed(1)} s`);
        const page = await fetch(`${t.base}/api/v1/conversations/${history}/messages`, { headers: { authorization: `Bearer ${a!.token}` } });
        const body = await page.text();
        if (page.status !== 200 || JSON.parse(body).length !== 50) throw new Error(`GET latest 50 returned ${page.status}: ${body.slice(0, 200)}`);
        const c = targets.find((x) => x.kind === "ceiling");
        if (c) await call(c.base, "POST", "/__bench/fixture", JSON.parse(body));
      }
      const spec = { token: a!.token, duration: params.w5Duration, connections: params.w5Connections };
      const get = await load({ ...spec, url: `${t.base}/api/v1/conversations/${history}/messages`, method: "GET" });
      const post = await load({ ...spec, url: `${t.base}/api/v1/conversations/${posts}/messages`, method: "POST", body: JSON.stringify({ content: "hello from the load tool, a chat-sized line of text" }) });
      log(`  W5 ${t.kind}: GET ${get.req_per_s} req/s p99 ${get.latency_ms.p99} ms; POST ${post.req_per_s} req/s p99 ${post.latency_ms.p99} ms (${get.tool})`);
      return { history_messages: t.kind === "ours" ? params.w5Rows : "fixture: our response held in memory", get, post };
    });
    // W8 only on ours (the ceiling has no webhooks); compared with the ceiling's W2 at the same window.
    if (wants("W8") && !flags.profile) {
      log("W8 webhooks on ours");
      try {
        const w2 = { groups: params.w2Groups, groupSize: params.w2GroupSize, windows: [params.w8Window], warmup: params.w2Warmup, stepDuration: params.w2Step };
        const r = await webhookDelivery(targets[0]!, { ...w2, binary, dataDir, steadyRate: params.w8Rate, steadySeconds: params.w8Duration });
        check("W8 ours without hook", r.w2_without_hook);
        check("W8 ours with hook", r.w2_with_hook);
        if (!r.drained) errors.push("W8: the webhook outbox did not drain within 180 s");
        const ceilingStep = scenarios.W2?.ceiling?.steps?.find((st: any) => st.window === params.w8Window);
        const perS = (w: any) => w.full_load.delivered_per_s;
        scenarios.W8 = {
          ours: { ...r, with_hook: perS(r.w2_with_hook), without_hook: perS(r.w2_without_hook) },
          ceiling: ceilingStep ? { with_hook: ceilingStep.delivered_per_s, without_hook: ceilingStep.delivered_per_s } : undefined,
        };
      } catch (error) {
        const msg = `W8 failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
        errors.push(msg);
        scenarios.W8 = { error: msg };
        log(msg);
      }
    }
    if (flags.profile) {
      log("stopping the profiled server (SIGTERM writes the profile)");
      await ours.stop("SIGTERM", 20_000);
      const name = flags.only ? [...flags.only].join("-").toLowerCase() : "w2";
      profileFile = summarizeProfile(profileDir, join(BENCH, "results", `profile-${name}.md`), profiled);
      log(`profile summary: ${profileFile}`);
    }
    for (const t of targets) unpin(t.pid);
    for (const p of procs.splice(0)) await p.stop();
  }

  if (wants("W6") && !flags.profile) {
    log("W6 start-up");
    try {
      const r = await startup(binary, hello, { rows: params.w6Rows, repeats: params.w6Repeats });
      scenarios.W6 = {
        ours: { empty_ms: r.empty_db.median_ms, big_ms: r.big_db.median_ms, binary_bytes: r.binary_bytes },
        ceiling: { empty_ms: r.hello_world.median_ms, big_ms: r.hello_world.median_ms, binary_bytes: r.hello_binary_bytes },
        detail: r,
      };
      log(`  W6: empty ${r.empty_db.median_ms} ms, ${r.big_db.messages} messages ${r.big_db.median_ms} ms, hello ${r.hello_world.median_ms} ms; binary ${fmtBytes(r.binary_bytes)}`);
    } catch (error) {
      errors.push(`W6 failed: ${error instanceof Error ? error.message : String(error)}`);
      log(errors[errors.length - 1]);
    }
  }

  if (wants("W7") && !flags.profile) {
    log("W7 search");
    try {
      const r = await searchBench(binary, {
        sizes: params.w7Sizes.split(",").map(Number),
        conversations: params.w7Conversations,
        searcherIn: params.w7SearcherIn,
        searchers: params.w7Searchers,
        warmup: params.w7Warmup,
        duration: params.w7Duration,
        vocabulary: params.w7Vocabulary,
      });
      const largest = r.steps.at(-1)!;
      scenarios.W7 = { ours: largest.http, ceiling: largest.in_process, detail: r };
      for (const step of r.steps) if (step.http.errors) errors.push(`W7 ${step.messages}: ${step.http.errors} failed searches, e.g. ${step.http.first_error}`);
    } catch (error) {
      errors.push(`W7 failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      log(errors[errors.length - 1]);
    }
  }

  if (wants("W11") && !flags.profile) {
    log("W11 files");
    try {
      const r = await filesBench(binary, { size: params.w11Size, concurrency: params.w11Concurrency, rounds: params.w11Rounds });
      const ceiling = { upload_mib_per_s: r.bun_write_mib_per_s, download_mib_per_s: r.bun_file_mib_per_s, rss_growth_per_upload_bytes: r.bare.rss_growth_per_upload_bytes };
      scenarios.W11 = { ours: r, ceiling, detail: r };
      if (r.errors) errors.push(`W11: ${r.errors} failed uploads or downloads, e.g. ${r.first_errors[0]}`);
      log(`  W11: upload ${r.upload_mib_per_s} MiB/s (Bun.write ${r.bun_write_mib_per_s}), download ${r.download_mib_per_s} MiB/s (Bun.file ${r.bun_file_mib_per_s}), RSS growth ${fmtBytes(r.rss_growth_per_upload_bytes)} per concurrent upload (bare Bun.serve ${fmtBytes(r.bare.rss_growth_per_upload_bytes)})`);
    } catch (error) {
      errors.push(`W11 failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      log(errors[errors.length - 1]);
    }
  }

  const rows = summaryRows(scenarios);
  const loadAtEnd = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const results = { mode, command, started_at: startedAt, finished_at: new Date().toISOString(), load_average_at_end: loadAtEnd, machine, notes, params, scenarios, summary: rows, errors, warnings, profile: profileFile };
  const resultsDir = join(BENCH, "results");
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, "-");
  const file = join(resultsDir, `${stamp}-${mode}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  writeFileSync(join(resultsDir, `latest-${mode}.json`), JSON.stringify(results, null, 2));
  if (!flags.profile) console.log("\n" + consoleTable(rows) + "\n");
  for (const w of warnings) log(`warning: ${w}`);
  log(`results: ${file}`);

  const write = flags.write ?? mode === "full";
  if (write && !flags.only) {
    const title = `chat-server vs same-run ceiling (${machine.nproc} cores, ${startedAt.slice(0, 10)})`;
    writeFileSync(join(BENCH, "chart.svg"), svgChart(rows, title));
    writeFileSync(join(BENCH, "benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
    writeBenchmarksMd(results, rows);
    log("wrote BENCHMARKS.md, bench/chart.svg and bench/benchmarks.json");
  }
  return errors;
}

/** bench --cluster: its own scenarios and BENCHMARKS.md section (bench/cluster.ts), the same results folder. */
async function clusterRun(binary: string, machine: ReturnType<typeof machineInfo>, startedAt: string, notes: string[]) {
  const errors: string[] = [];
  const { results, rows } = await runClusterBench(binary, params, errors);
  const resultsDir = join(BENCH, "results");
  mkdirSync(resultsDir, { recursive: true });
  const out = { mode, command, started_at: startedAt, finished_at: new Date().toISOString(), machine, notes, params, results, summary: rows, errors };
  writeFileSync(join(resultsDir, `${startedAt.replace(/[:.]/g, "-")}-${mode}.json`), JSON.stringify(out, null, 2));
  writeFileSync(join(resultsDir, `latest-${mode}.json`), JSON.stringify(out, null, 2));
  if (flags.write ?? !flags.quick) {
    const where = `${machine.nproc} cores, ${machine.cpu_model}, Bun ${machine.bun}, commit \`${machine.git_commit.slice(0, 12)}\`, load ${machine.load_average_at_start} at start`;
    writeClusterSection(join(ROOT, "BENCHMARKS.md"), rows, { command, startedAt, machine: where, params });
    log("wrote the cluster section of BENCHMARKS.md");
  }
  return errors;
}

function writeBenchmarksMd(results: any, rows: ReturnType<typeof summaryRows>) {
  const m = results.machine;
  const s = results.scenarios;
  const w2 = (kind: string) =>
    (s.W2?.[kind]?.steps ?? [])
      .map(
        (st: any) =>
          `| ${kind} | ${st.window} (${st.in_flight} in flight) | ${Math.round(st.delivered_per_s)} | ${Math.round(st.acked_per_s)} | ${st.ack_ms.p50} / ${st.ack_ms.p99} | ${st.delivery_ms.p50} / ${st.delivery_ms.p99} | ${st.server_cpu_percent} % | ${st.generator_cpu_percent} % |`,
      )
      .join("\n");
  const w6 = s.W6?.detail;
  const section = `<!-- bench:begin (generated by bun run bench; edit outside these markers) -->
## Latest full run

- **Command:** \`${results.command}\` (full sizes; \`bun run bench --quick\` is the CI smoke size)
- **When:** ${results.started_at} → ${results.finished_at}
- **Machine:** ${m.nproc} cores, ${m.cpu_model}, ${m.memory_gib} GiB RAM, Linux ${m.kernel}; load average ${m.load_average_at_start} at start, ${results.load_average_at_end} at the end (the box is shared, so absolute numbers drift; the ratios are measured against a ceiling in the same run)
- **Versions:** Bun ${m.bun}; git commit \`${m.git_commit}\`${m.git_src_dirty ? " (with uncommitted changes in src/ from work in progress)" : ""}
${results.notes.map((n: string) => `- ${n}`).join("\n")}
- **Ceiling:** \`bench/ceiling-server.ts\` (Bun.serve pub/sub, same frames, no auth, no validation, no persistence) for W1–W4; W5's ceiling is the same Bun.serve returning our exact GET body from memory and appending POSTs to memory; W6's is a compiled hello-world \`Bun.serve\`.
- **Raw results:** \`bench/benchmarks.json\` (this run, committed with this file); every run's JSON is kept in \`bench/results/\` (gitignored)

![ours / ceiling per metric](bench/chart.svg)

${markdownTable(rows)}

Sizes: W1 ${results.params.w1Groups * results.params.w1GroupSize} sockets in ${results.params.w1Groups} groups of ${results.params.w1GroupSize} at ${results.params.w1Rate} msg/s each for ${results.params.w1Duration} s; W2 ${results.params.w2Groups * results.params.w2GroupSize} sockets in groups of ${results.params.w2GroupSize}, closed loop with ${results.params.w2Windows} messages in flight per socket, ${results.params.w2Step} s per step; W3 one ${results.params.w3Members}-member group at ${results.params.w3Rate} msg/s for ${results.params.w3Duration} s; W4 ${results.params.w4Sockets} sockets from ${results.params.users} users over ${results.params.w4Workers} worker processes, ${results.params.w4Idle} s idle; W5 ${results.params.w5Rows} messages of history, ${results.params.w5Connections} connections for ${results.params.w5Duration} s each; W6 ${results.params.w6Rows} messages, median of ${results.params.w6Repeats} starts.
Latency is send → receive of \`new_message\` on every member (the send time is stamped in \`client_msg_id\`); "delivered" counts \`new_message\` frames received by all sockets, the sender's own copy included.

### W2 steps (closed loop)

| server | window per socket | delivered/s | acked/s | ack p50 / p99 ms | delivery p50 / p99 ms | server CPU | generator CPU |
|---|---|--:|--:|--:|--:|--:|--:|
${w2("ours")}
${w2("ceiling")}

### W4, W6, W7 and W11 details

- W4 ours: ${s.W4?.ours ? `${s.W4.ours.sockets_held_after_idle} sockets held, connected in ${s.W4.ours.connect_all_ms} ms (${s.W4.ours.connects_per_s}/s), RSS ${fmtBytes(s.W4.ours.rss_before_bytes)} → ${fmtBytes(s.W4.ours.rss_after_bytes)}, idle CPU ${s.W4.ours.idle_cpu_percent} % over ${s.W4.ours.idle_seconds} s, open-file limit ${s.W4.ours.server_open_file_limit}` : "—"}
- W4 ceiling: ${s.W4?.ceiling ? `${s.W4.ceiling.sockets_held_after_idle} sockets held, connected in ${s.W4.ceiling.connect_all_ms} ms, RSS ${fmtBytes(s.W4.ceiling.rss_before_bytes)} → ${fmtBytes(s.W4.ceiling.rss_after_bytes)}, idle CPU ${s.W4.ceiling.idle_cpu_percent} %` : "—"}
- W6: ${w6 ? `empty DB ${w6.empty_db.median_ms} ms (runs ${w6.empty_db.runs_ms.join(", ")}), ${w6.big_db.messages.toLocaleString("en-US")}-message DB (${fmtBytes(w6.big_db.db_bytes)}) ${w6.big_db.median_ms} ms, hello world ${w6.hello_world.median_ms} ms; binary ${fmtBytes(w6.binary_bytes)}, hello-world binary ${fmtBytes(w6.hello_binary_bytes)}` : "—"}
${w7Lines(s.W7?.detail)}
${w11Line(s.W11?.detail)}
${lifeLines(s.W9?.detail, s.W10?.ours)}
${results.warnings.length ? "\nWarnings from this run:\n\n" + results.warnings.map((w: string) => `- ${w}`).join("\n") + "\n" : ""}${results.errors.length ? "\nErrors in this run:\n\n" + results.errors.map((e: string) => `- ${e.split("\n")[0]}`).join("\n") + "\n" : ""}<!-- bench:end -->`;
  const path = join(ROOT, "BENCHMARKS.md");
  const header = `# Benchmarks\n\n\`bun run bench\` builds the binary, starts it next to a minimal ceiling server (bench/ceiling-server.ts), drives both with the same load generator and rewrites the section below. \`bun run bench --quick\` is the CI smoke size (fails only on errors, never on timings); \`bun run bench --help\` lists every size.\n\n`;
  let doc = existsSync(path) ? readFileSync(path, "utf8") : header + "<!-- bench:begin -->\n<!-- bench:end -->\n";
  const begin = doc.indexOf("<!-- bench:begin");
  const end = doc.indexOf("<!-- bench:end -->");
  doc = begin >= 0 && end > begin ? doc.slice(0, begin) + section + doc.slice(end + "<!-- bench:end -->".length) : header + section + "\n\n" + doc;
  writeFileSync(path, doc);
}

/** W9 (mixed against plain, same run) and W10 (reconnect storm), ours only. */
function lifeLines(w9: any, w10: any): string {
  const m = w9?.mixed;
  const a = m
    ? `- W9 mixed: ${m.sockets} sockets (${m.groups} groups of ${m.group_size} senders + 1 churn member), 1 in flight per sender, every send mentions a member, a third reply; ${m.delivered_per_s} delivered/s (${m.new_message_per_s} new_message + ${m.message_updated_per_s} message_updated), ${m.acked_per_s} sends/s; ack p50/p99 ${m.ack_ms.p50}/${m.ack_ms.p99} ms, delivery p50/p99 ${m.delivery_ms.p50}/${m.delivery_ms.p99} ms; server CPU ${m.server_cpu_percent} %; REST per send ${Object.entries(m.rest_per_send_percent).map(([k, v]) => `${k} ${v} %`).join(", ")} (REST p99 ${m.rest_latency_ms.p99} ms); plain W2 at 1 in flight ${w9.plain.delivered_per_s} delivered/s, ratio ${w9.ratio_delivered}`
    : "- W9: —";
  const b = w10
    ? `- W10 reconnect storm: ${w10.clients} clients in groups of ${w10.group_size}, offline while ${w10.offline_messages} messages and ${w10.offline_edits} edits happened (${w10.offline_seconds} s); all reconnected at once and synced (since + revs): all converged in ${w10.converge_all_ms} ms (median client ${w10.converge_median_ms} ms, ${w10.sync_rounds_mean} sync rounds), server CPU ${w10.server_cpu_percent} % (${w10.server_cpu_seconds} s), received per client ${fmtBytes(w10.bytes_per_client.mean)} mean, ${fmtBytes(w10.bytes_per_client.p99 ?? 0)} p99 (new_message ${fmtBytes(w10.new_message_bytes_per_client_mean)}, changes ${fmtBytes(w10.changes_bytes_per_client_mean)}); ${w10.verified_clients - w10.not_converged}/${w10.verified_clients} clients equal to the server's GET`
    : "- W10: —";
  return `${a}\n${b}`;
}

/** W7 per corpus size: over HTTP (the measured figure) and the same search in-process (baseline). */
function w7Lines(d: any): string {
  if (!d) return "- W7: —";
  return d.steps
    .map(
      (st: any) =>
        `- W7 ${st.messages.toLocaleString("en-US")} messages (${fmtBytes(st.db_bytes)}): HTTP p50 ${st.http.latency_ms.p50} ms, p99 ${st.http.latency_ms.p99} ms, ${st.http.queries_per_s} queries/s with ${d.searchers} searchers (${st.http.tool}); in-process p50 ${st.in_process.latency_ms.p50} ms, p99 ${st.in_process.latency_ms.p99} ms, ${st.in_process.queries_per_s} queries/s; ${st.http.mean_results} results per query, ${st.http.empty_results_percent} % empty (${d.conversations} conversations, the searcher in ${d.searcher_in}, limit ${d.limit})`,
    )
    .join("\n");
}

/** W11: sizes, per-round figures and the RSS readings behind the per-upload growth. */
function w11Line(d: any): string {
  if (!d) return "- W11: —";
  const rounds = d.steps.map((st: any) => `${st.upload_mib_per_s} / ${st.download_mib_per_s}`).join(", ");
  return `- W11 files: ${d.concurrency} × ${fmtBytes(d.size_bytes)} uploaded at once then downloaded at once, ${d.rounds} round(s), medians in the table; MiB/s upload / download per round ${rounds}; server RSS ${fmtBytes(d.rss_before_bytes)} before the uploads, peak ${fmtBytes(d.rss_peak_during_uploads_bytes)} during them (worst round) (VmHWM ${fmtBytes(d.vm_hwm_end_bytes)} at the end), ${fmtBytes(d.rss_growth_per_upload_bytes)} per concurrent upload (goal ≤ 2 MiB)${d.bare ? `; a bare Bun.serve reading and dropping the same uploads in the same run: ${fmtBytes(d.bare.rss_before_bytes)} → peak ${fmtBytes(d.bare.rss_peak_during_uploads_bytes)}, ${fmtBytes(d.bare.rss_growth_per_upload_bytes)} per upload` : ""}`;
}

let exitCode = 0;
try {
  const errs = await main();
  if (errs.length) {
    exitCode = 1;
    console.error(`\n${errs.length} error(s):\n` + errs.map((e) => "  - " + e.split("\n")[0]).join("\n"));
  }
} catch (error) {
  exitCode = 1;
  console.error(error);
} finally {
  await cleanup();
}
process.exit(exitCode);
