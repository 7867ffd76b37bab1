// W4 helper process: opens its share of authenticated idle sockets, reports over IPC, holds them
// until told to close. The bench spreads 10,000 sockets over a few of these (pinned to the generator core).
//   bun bench/w4-worker.ts <ws-url> <tokens.json> <concurrency>
import { Pool } from "./lib/sockets";

const [wsUrl, tokensFile, concurrency] = process.argv.slice(2);
const tokens = (await Bun.file(tokensFile!).json()) as string[];
const pool = new Pool();
const opened = await pool.open(wsUrl!, tokens, Number(concurrency ?? 100));
process.send!({ type: "connected", ms: opened.ms, failures: opened.failures.length, first_failure: opened.failures[0] ?? null, open: pool.openCount });

process.on("message", async (message) => {
  if (message === "report") {
    process.send!({ type: "report", open: pool.openCount, unexpected_closes: pool.unexpectedCloses, close_codes: Object.fromEntries(pool.closeCodes) });
  } else if (message === "close") {
    await pool.close();
    process.send!({ type: "closed" });
    process.exit(0);
  }
});
