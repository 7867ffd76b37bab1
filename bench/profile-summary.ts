// Summarizes the newest .cpuprofile in a directory (bun --cpu-prof) into a markdown table of hot spots:
// self and inclusive time per function, optionally only for samples inside a wall-clock window.
//   bun bench/profile-summary.ts <dir> [out.md]
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = resolve(import.meta.dir, "..");
const IDLE = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

export function summarizeProfile(dir: string, outFile: string, window?: { fromMs: number; toMs: number }, top = 30): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files.length) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(files[0]!, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: Node) => {
    const url = n.callFrame.url ? relative(ROOT, n.callFrame.url.replace(/^file:\/\//, "")) : "[native]";
    return `${n.callFrame.functionName || "(anonymous)"}\t${url}${n.callFrame.lineNumber >= 0 ? ":" + (n.callFrame.lineNumber + 1) : ""}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  let t = profile.startTime;
  // The sampler only ticks while the thread runs JS or native code; a long gap before the next
  // sample is idle time, so each sample counts for at most three typical intervals.
  const sortedDeltas = [...profile.timeDeltas].sort((a, b) => a - b);
  const cap = 3 * (sortedDeltas[Math.floor(sortedDeltas.length / 2)] ?? 1000);
  profile.samples.forEach((id, i) => {
    const dt = Math.min(cap, profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0);
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t / 1000 < window.fromMs || t / 1000 > window.toMs)) return;
    const node = byId.get(id)!;
    if (IDLE.has(node.callFrame.functionName)) return;
    busy += dt;
    self.set(key(node), (self.get(key(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const k = key(byId.get(n)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  });
  const table = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([k]) => !IDLE.has(k.split("\t")[0]!))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => {
        const [fn, where] = k.split("\t");
        return `| ${((100 * v) / busy).toFixed(1)} % | ${(v / 1000).toFixed(0)} ms | \`${fn}\` | ${where} |`;
      })
      .join("\n");
  const md = `# CPU profile of the server (bun run bench --profile)

Source: \`${relative(ROOT, files[0]!)}\`${window ? `, samples between ${new Date(window.fromMs).toISOString()} and ${new Date(window.toMs).toISOString()}` : ""}.
${(busy / 1e6).toFixed(1)} s of samples on the main thread (idle gaps between samples left out; SQLite's fsync and the kernel's socket writes count inside the native call that waits for them); percentages are of that time.

## Self time

| self | time | function | location |
|--:|--:|---|---|
${table(self)}

## Inclusive time

| total | time | function | location |
|--:|--:|---|---|
${table(total)}
`;
  writeFileSync(outFile, md);
  return outFile;
}

if (import.meta.main) {
  const [dir, out] = process.argv.slice(2);
  console.log(summarizeProfile(dir ?? "bench/results/profiles", out ?? "bench/results/profile-w2.md"));
}
