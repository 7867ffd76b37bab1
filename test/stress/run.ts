// `bun run stress [--quick] [--strict] [--only name,name] [--build]`: the slow reliability scenarios, each against
// the compiled binary on loopback with a temporary data dir, printing one figure line per scenario.
// Exits non-zero when any scenario breaks a promise (lost, duplicated, gaps, 5xx, …); breaches from
// bugs already reported are printed as KNOWN and fail only with --strict.
import { contention } from "./contention";
import { diskFull } from "./disk-full";
import { durability } from "./durability";
import { flood } from "./flood";
import { gracefulStop } from "./graceful-stop";
import { idempotency } from "./idempotency";
import { ensureBinary } from "./lib";
import { ordering } from "./ordering";
import { secondServer } from "./second-server";
import { secret } from "./secret";
import { slowConsumer } from "./slow-consumer";
import { soak } from "./soak";
import { stall } from "./stall";
import { webhooks } from "./webhooks";

export interface ScenarioResult {
  line: string;
  failures: string[];
  /** Breaches caused by a reported bug outside the harness: printed, and failing only with --strict. */
  known?: string[];
}

/**
 * Scenarios run a second time when the first fails (both printed). `stall`: once in about eight CI
 * runs, the first /health at the very start of a freeze waited for the whole freeze (the event loop
 * was in a SQLite call that touched the frozen files); the cause is not yet found (README, Guarantees).
 */
const RUN_TWICE_ON_FAILURE = new Set(["stall"]);

const scenarios: [string, (quick: boolean) => Promise<ScenarioResult>][] = [
  ["durability", durability],
  ["idempotency", idempotency],
  ["ordering", ordering],
  ["slow-consumer", slowConsumer],
  ["graceful-stop", gracefulStop],
  ["contention", contention],
  ["soak", soak],
  ["second-server", secondServer],
  ["secret", secret],
  ["flood", flood],
  ["disk-full", diskFull],
  ["stall", stall],
  ["webhooks", webhooks],
];

async function main(argv: string[]) {
  const quick = argv.includes("--quick");
  const strict = argv.includes("--strict");
  const onlyArg = argv.find((a) => a.startsWith("--only"));
  const only = onlyArg ? (onlyArg.includes("=") ? onlyArg.split("=")[1]! : argv[argv.indexOf(onlyArg) + 1]!).split(",") : null;
  await ensureBinary(argv.includes("--build"));
  let failed = 0;
  console.log(`stress ${quick ? "(quick)" : "(full)"}: compiled binary, loopback, temporary data dirs`);
  for (const [name, scenario] of scenarios) {
    if (only && !only.includes(name)) continue;
    const t0 = performance.now();
    const attempt = async (): Promise<ScenarioResult> => {
      try {
        return await scenario(quick);
      } catch (error) {
        return { line: "crashed", failures: [error instanceof Error ? (error.stack ?? error.message) : String(error)] };
      }
    };
    let result = await attempt();
    if (result.failures.length > 0 && RUN_TWICE_ON_FAILURE.has(name)) {
      // Printed, never hidden: the first attempt's line and failures stay in the output.
      console.log(`FLAKY? ${name.padEnd(14)} ${result.line}`);
      for (const f of result.failures) console.log(`     ! first attempt: ${f}`);
      result = await attempt();
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const known = result.known ?? [];
    const ok = result.failures.length === 0 && (!strict || known.length === 0);
    if (!ok) failed++;
    console.log(`${ok ? (known.length ? "KNOWN" : "PASS") : "FAIL"} ${name.padEnd(14)} ${result.line} (${seconds}s)`);
    for (const f of result.failures) console.log(`     ! ${f}`);
    for (const k of known) console.log(`     ? known bug: ${k}`);
  }
  process.exit(failed ? 1 : 0);
}

await main(process.argv.slice(2));
