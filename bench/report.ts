// Turns a results object into the summary rows (ours / ceiling with targets), a markdown report,
// and an SVG bar chart of the ratios (hand-written SVG, no packages).
import { fmtBytes } from "./lib/util";

type Better = "higher" | "lower";
type Unit = "msg/s" | "req/s" | "MiB/s" | "ms" | "us" | "bytes" | "%" | "count";

export interface Row {
  scenario: string;
  metric: string;
  unit: Unit;
  better: Better;
  ours: number | null;
  ceiling: number | null;
  ratio: number | null;
  target: { op: ">=" | "<="; value: number } | null;
  met: boolean | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function summaryRows(s: Record<string, { ours?: any; ceiling?: any } | undefined>): Row[] {
  const rows: Row[] = [];
  const add = (
    scenario: string,
    metric: string,
    unit: Unit,
    better: Better,
    pick: (r: any) => unknown,
    target: Row["target"] = null,
  ) => {
    const entry = s[scenario];
    if (!entry) return;
    const safe = (r: any) => {
      try {
        return r ? num(pick(r)) : null;
      } catch {
        return null;
      }
    };
    const ours = safe(entry.ours);
    const ceiling = safe(entry.ceiling);
    const ratio = ours !== null && ceiling !== null && ceiling !== 0 ? ours / ceiling : null;
    const met = target && ratio !== null ? (target.op === ">=" ? ratio >= target.value : ratio <= target.value) : null;
    rows.push({ scenario, metric, unit, better, ours, ceiling, ratio, target, met });
  };
  add("W1", "delivered msg/s", "msg/s", "higher", (r) => r.delivered_per_s);
  add("W1", "send→receive p50", "ms", "lower", (r) => r.delivery_ms.p50);
  add("W1", "send→receive p99", "ms", "lower", (r) => r.delivery_ms.p99, { op: "<=", value: 3 });
  add("W1", "server CPU per delivery", "us", "lower", (r) => r.server_cpu_us_per_delivery, { op: "<=", value: 1.5 });
  add("W1", "server CPU", "%", "lower", (r) => r.server_cpu_percent);
  add("W1", "server RSS", "bytes", "lower", (r) => r.server_rss_bytes);
  add("W2", "delivered msg/s, full load", "msg/s", "higher", (r) => r.full_load.delivered_per_s, { op: ">=", value: 0.4 });
  add("W2", "acked sends/s, full load", "msg/s", "higher", (r) => r.full_load.acked_per_s);
  add("W2", "delivered msg/s with p99 < 50 ms", "msg/s", "higher", (r) => r.p99_under_50ms?.delivered_per_s);
  add("W3", "fan-out to last member p50", "ms", "lower", (r) => r.fanout_last_member_ms.p50);
  add("W3", "fan-out to last member p99", "ms", "lower", (r) => r.fanout_last_member_ms.p99, { op: "<=", value: 1.2 });
  add("W4", "authenticated sockets held", "count", "higher", (r) => r.sockets_held_after_idle);
  add("W4", "time to connect all", "ms", "lower", (r) => r.connect_all_ms);
  add("W4", "RSS per socket", "bytes", "lower", (r) => r.rss_per_socket_bytes, { op: "<=", value: 2 });
  add("W4", "idle server CPU (heartbeats)", "%", "lower", (r) => r.idle_cpu_percent);
  add("W5", "GET latest 50 req/s", "req/s", "higher", (r) => r.get.req_per_s, { op: ">=", value: 0.4 });
  add("W5", "GET latest 50 p99", "ms", "lower", (r) => r.get.latency_ms.p99);
  add("W5", "POST message req/s", "req/s", "higher", (r) => r.post.req_per_s, { op: ">=", value: 0.25 });
  add("W5", "POST message p99", "ms", "lower", (r) => r.post.latency_ms.p99);
  add("W8", "W2 delivered msg/s, one webhook", "msg/s", "higher", (r) => r.with_hook, { op: ">=", value: 0.6 });
  add("W8", "W2 delivered msg/s, no webhook (same session)", "msg/s", "higher", (r) => r.without_hook);
  add("W8", "webhook deliveries/s draining", "msg/s", "higher", (r) => r.deliveries_per_s_draining ?? r.deliveries_per_s_during_load);
  add("W8", "webhook commit→receipt p50, steady rate", "ms", "lower", (r) => r.commit_to_receipt_ms.p50);
  add("W8", "webhook commit→receipt p99, steady rate", "ms", "lower", (r) => r.commit_to_receipt_ms.p99);
  // W9 and W10 are ours only: W9's second column is plain W2 at 1 in flight on ours, same run.
  add("W9", "mixed delivered msg/s (new + updated) vs plain W2", "msg/s", "higher", (r) => r.delivered_per_s);
  add("W9", "mixed send→ack p50", "ms", "lower", (r) => r.ack_ms.p50);
  add("W9", "mixed send→ack p99", "ms", "lower", (r) => r.ack_ms.p99);
  add("W9", "mixed send→delivery p50", "ms", "lower", (r) => r.delivery_ms.p50);
  add("W9", "mixed send→delivery p99", "ms", "lower", (r) => r.delivery_ms.p99);
  add("W9", "mixed server CPU", "%", "lower", (r) => r.server_cpu_percent);
  add("W10", "reconnect storm: all converged", "ms", "lower", (r) => r.converge_all_ms);
  add("W10", "reconnect storm: server CPU", "%", "lower", (r) => r.server_cpu_percent);
  add("W10", "bytes received per client, mean", "bytes", "lower", (r) => r.bytes_per_client.mean);
  add("W10", "bytes received per client, p99", "bytes", "lower", (r) => r.bytes_per_client.p99);
  add("W6", "start to /health, empty DB", "ms", "lower", (r) => r.empty_ms, { op: "<=", value: 3 });
  add("W6", "start to /health, big DB", "ms", "lower", (r) => r.big_ms, { op: "<=", value: 5 });
  add("W6", "binary size", "bytes", "lower", (r) => r.binary_bytes);
  // W7's baseline is the same search called in-process (no HTTP); its goal (p99 <= 50 ms) is absolute.
  add("W7", "search queries/s, largest corpus", "req/s", "higher", (r) => r.queries_per_s);
  add("W7", "search p50, largest corpus", "ms", "lower", (r) => r.latency_ms.p50);
  add("W7", "search p99, largest corpus", "ms", "lower", (r) => r.latency_ms.p99);
  // W11's baseline is this process copying the same bytes with Bun.write / Bun.file; for RSS, a bare
  // Bun.serve taking the same uploads. The RSS goal (≤ 2 MiB per concurrent upload) is absolute.
  add("W11", "upload MiB/s, concurrent uploads", "MiB/s", "higher", (r) => r.upload_mib_per_s, { op: ">=", value: 0.5 });
  add("W11", "download MiB/s, concurrent downloads", "MiB/s", "higher", (r) => r.download_mib_per_s, { op: ">=", value: 0.5 });
  add("W11", "server RSS growth per concurrent upload (goal ≤ 2 MiB)", "bytes", "lower", (r) => r.rss_growth_per_upload_bytes);
  return rows;
}

export function fmt(v: number | null, unit: Unit): string {
  if (v === null) return "—";
  switch (unit) {
    case "bytes":
      return fmtBytes(v);
    case "ms":
      return v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`;
    case "us":
      return `${v.toFixed(1)} µs`;
    case "%":
      return `${v.toFixed(1)} %`;
    case "count":
      return Math.round(v).toLocaleString("en-US");
    default:
      return `${Math.round(v).toLocaleString("en-US")} ${unit}`;
  }
}

export const fmtRatio = (r: number | null) => (r === null ? "—" : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`);
const fmtTarget = (row: Row) => (row.target ? `${row.target.op === ">=" ? "≥" : "≤"} ${row.target.value}×` : "");
const fmtMet = (row: Row) => (row.met === null ? "" : row.met ? "yes" : "**no**");

export function markdownTable(rows: Row[]): string {
  const out = ["| scenario | metric | ours | ceiling | ours / ceiling | target | met |", "|---|---|--:|--:|--:|--:|:-:|"];
  for (const r of rows) {
    out.push(`| ${r.scenario} | ${r.metric} | ${fmt(r.ours, r.unit)} | ${fmt(r.ceiling, r.unit)} | ${fmtRatio(r.ratio)} | ${fmtTarget(r)} | ${fmtMet(r)} |`);
  }
  return out.join("\n");
}

export function consoleTable(rows: Row[]): string {
  const cells = rows.map((r) => [r.scenario, r.metric, fmt(r.ours, r.unit), fmt(r.ceiling, r.unit), fmtRatio(r.ratio), fmtTarget(r), r.met === null ? "" : r.met ? "met" : "MISSED"]);
  const head = ["", "metric", "ours", "ceiling", "ours/ceiling", "target", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i >= 2 && i <= 5 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ");
  return [line(head), ...cells.map(line)].join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars of ours / ceiling on a log scale, drawn from 1× outwards, with target ticks. */
export function svgChart(rows: Row[], title: string): string {
  const shown = rows.filter((r) => r.ratio !== null);
  const W = 960;
  const rowH = 24;
  const top = 56;
  const left = 330;
  const right = W - 90;
  const H = top + shown.length * rowH + 40;
  const lo = 0.05;
  const hi = 20;
  const x = (v: number) => left + ((Math.log10(Math.min(hi, Math.max(lo, v))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (right - left);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  parts.push(
    `<text x="12" y="40" fill="#555">ours / same-run ceiling, log scale. Green: target met, red: missed, grey: no target. Throughput: right is better; latency, CPU, memory, time: left is better.</text>`,
  );
  for (const tick of [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20]) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + shown.length * rowH}" stroke="${tick === 1 ? "#333" : "#ddd"}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${tx}" y="${top + shown.length * rowH + 16}" text-anchor="middle" fill="#555">${tick}×</text>`);
  }
  shown.forEach((r, i) => {
    const y = top + i * rowH;
    const ratio = r.ratio!;
    const color = r.met === null ? "#9e9e9e" : r.met ? "#2e7d32" : "#c62828";
    const x0 = Math.min(x(1), x(ratio));
    const width = Math.max(1.5, Math.abs(x(ratio) - x(1)));
    if (i % 2 === 0) parts.push(`<rect x="0" y="${y}" width="${W}" height="${rowH}" fill="#f6f6f6"/>`);
    parts.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(`${r.scenario} ${r.metric}`)}</text>`);
    parts.push(`<rect x="${x0}" y="${y + 5}" width="${width}" height="${rowH - 10}" fill="${color}"/>`);
    if (r.target) {
      const tx = x(r.target.value);
      parts.push(`<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
    const labelX = Math.max(x(1), x(ratio), r.target ? x(r.target.value) : 0) + 6;
    parts.push(`<text x="${Math.min(labelX, right + 8)}" y="${y + 16}">${esc(fmtRatio(ratio))}</text>`);
  });
  parts.push(`<text x="${W - 12}" y="${H - 6}" text-anchor="end" fill="#777">dashed tick: target from issue 4</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
