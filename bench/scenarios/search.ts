// W7 search: a corpus of `sizes` messages (ascending; the same database grows from one size to the
// next) in 1,000 conversations, one user in 50 of them; `searchers` closed loops of GET
// /search/messages with realistic queries against our binary: p50/p99 and queries/s per size. The
// same-run baseline ("ceiling") is the same service function called in this process on the same
// file, one query at a time: what the search itself costs without HTTP, auth and validation.
import { join } from "node:path";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { openDatabase } from "../../src/db/client";
import { sqliteStorage } from "../../src/db/stores";
import { searchMessages } from "../../src/modules/search/service";
import { createUsers } from "../lib/api";
import { fillCorpus, searchQueries } from "../lib/search-corpus";
import { freePort, GENERATOR_CORE, log, pin, pinnedCommand, round, Samples, SERVER_CORE, spawnProc, unpin, waitReady } from "../lib/util";
import { hasWrk, load } from "./rest";
import { DB_FILE, serverCommand } from "./startup";

export interface W7Params {
  sizes: number[];
  conversations: number;
  searcherIn: number;
  searchers: number;
  warmup: number;
  duration: number;
  vocabulary: number;
}

/** The measured window under wrk (one connection per searcher, each a closed loop), when installed. */
async function overWrk(base: string, token: string, queries: string[], searchers: number, seconds: number) {
  const paths = queries.map((q) => `/api/v1/search/messages?limit=${LIMIT}&q=${encodeURIComponent(q)}`);
  const lua = `local paths = {${paths.map((p) => JSON.stringify(p)).join(",")}}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, paths[(i % #paths) + 1])
end`;
  const r = await load({ url: base + paths[0], method: "GET", token, duration: seconds, connections: searchers, lua });
  const errors = r.non_2xx + r.socket_errors;
  return { tool: r.tool, queries: r.requests, queries_per_s: r.req_per_s, latency_ms: r.latency_ms, errors, ...(errors ? { first_error: `wrk: ${r.non_2xx} non-2xx, ${r.socket_errors} socket errors` } : {}) };
}

interface Measured {
  tool?: string;
  queries: number;
  queries_per_s: number | null;
  latency_ms: { p50: number | null; p99: number | null };
  mean_results?: number | null;
  empty_results_percent?: number | null;
  errors: number;
  first_error?: string;
}

const QUERY_COUNT = 500;
const LIMIT = 20;

async function overHttp(base: string, token: string, queries: string[], searchers: number, seconds: number): Promise<Measured> {
  const samples = new Samples();
  let errors = 0;
  let firstError: string | undefined;
  let results = 0;
  let empty = 0;
  let next = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: searchers }, async () => {
      while (performance.now() < end) {
        const q = queries[next++ % queries.length]!;
        const s = performance.now();
        try {
          const res = await fetch(`${base}/api/v1/search/messages?limit=${LIMIT}&q=${encodeURIComponent(q)}`, {
            headers: { authorization: `Bearer ${token}`, "accept-encoding": "identity" },
          });
          const body = await res.text();
          if (res.status !== 200) {
            errors++;
            firstError ??= `${q}: ${res.status} ${body.slice(0, 200)}`;
            continue;
          }
          samples.add(performance.now() - s);
          const n = (JSON.parse(body) as { results: unknown[] }).results.length;
          results += n;
          if (n === 0) empty++;
        } catch (error) {
          errors++;
          firstError ??= String(error);
        }
      }
    }),
  );
  return summarize(samples, (performance.now() - t0) / 1000, results, empty, errors, firstError);
}

async function inProcess(dbPath: string, userId: string, queries: string[], seconds: number): Promise<Measured> {
  const db = openDatabase(dbPath, { readonly: true });
  const storage = sqliteStorage(db);
  try {
    const samples = new Samples();
    let results = 0;
    let empty = 0;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const s = performance.now();
      const page = await searchMessages(storage, userId, { q: queries[i % queries.length]!, limit: LIMIT });
      JSON.stringify(page);
      samples.add(performance.now() - s);
      results += page.results.length;
      if (page.results.length === 0) empty++;
    }
    return summarize(samples, (performance.now() - t0) / 1000, results, empty, 0);
  } finally {
    db.$client.close();
  }
}

function summarize(samples: Samples, seconds: number, results: number, empty: number, errors: number, firstError?: string): Measured {
  const n = samples.count;
  return {
    queries: n,
    queries_per_s: round(n / seconds, 1),
    latency_ms: samples.summary(),
    mean_results: n ? round(results / n, 1) : null,
    empty_results_percent: n ? round((100 * empty) / n, 1) : null,
    errors,
    ...(firstError ? { first_error: firstError } : {}),
  };
}

export async function searchBench(binary: string, p: W7Params) {
  const dir = mkdtempSync(join(tmpdir(), "bench-w7-"));
  const dbPath = join(dir, DB_FILE);
  const start = async () => {
    const port = await freePort();
    const proc = spawnProc(pinnedCommand(serverCommand(binary, dir, port), SERVER_CORE));
    await waitReady(`http://127.0.0.1:${port}/health`, proc);
    return { proc, base: `http://127.0.0.1:${port}` };
  };
  try {
    // Two real accounts (the searcher logs in; its token outlives restarts), the rest written directly.
    let server = await start();
    const [searcher, sender] = await createUsers(server.base, 2, `w7${Date.now().toString(36)}`, 2);
    await server.proc.stop();
    const steps = [];
    let have = 0;
    for (const size of [...p.sizes].sort((a, b) => a - b)) {
      const t0 = performance.now();
      const { words } = fillCorpus(dbPath, {
        searcherId: searcher!.id,
        senderId: sender!.id,
        conversations: p.conversations,
        searcherIn: p.searcherIn,
        from: have,
        to: size,
        vocabulary: p.vocabulary,
      });
      const buildS = (performance.now() - t0) / 1000;
      log(`  W7: ${size.toLocaleString("en-US")} messages written in ${buildS.toFixed(1)} s (${(statSync(dbPath).size / 2 ** 20).toFixed(0)} MiB)`);
      have = size;
      const queries = searchQueries(words, QUERY_COUNT);
      server = await start();
      pin(process.pid, GENERATOR_CORE);
      // Warm-up, which also checks every answer and counts results: the page cache and the server's
      // prepared statements, as a running server has them. Then the measured window, under wrk if any.
      const checked = await overHttp(server.base, searcher!.token, queries, p.searchers, p.warmup);
      const http: Measured = hasWrk
        ? { ...(await overWrk(server.base, searcher!.token, queries, p.searchers, p.duration)), mean_results: checked.mean_results, empty_results_percent: checked.empty_results_percent }
        : { tool: "bun fetch closed loops", ...(await overHttp(server.base, searcher!.token, queries, p.searchers, p.duration)) };
      if (checked.errors) Object.assign(http, { errors: http.errors + checked.errors, first_error: checked.first_error });
      await server.proc.stop();
      const direct = await inProcess(dbPath, searcher!.id, queries, Math.max(1, p.duration / 2));
      unpin(process.pid);
      log(
        `  W7 ${size.toLocaleString("en-US")}: HTTP p50 ${http.latency_ms.p50} ms p99 ${http.latency_ms.p99} ms ${http.queries_per_s} q/s (${p.searchers} searchers, ${checked.mean_results} results/query, ${checked.empty_results_percent}% empty); in-process p50 ${direct.latency_ms.p50} ms p99 ${direct.latency_ms.p99} ms ${direct.queries_per_s} q/s`,
      );
      steps.push({ messages: size, db_bytes: statSync(dbPath).size, build_s: round(buildS, 1), http, in_process: direct });
    }
    return { conversations: p.conversations, searcher_in: p.searcherIn, searchers: p.searchers, limit: LIMIT, distinct_queries: QUERY_COUNT, steps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
