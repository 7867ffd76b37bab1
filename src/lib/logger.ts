// Structured logging: one JSON line per event, or a readable line for a terminal. Never logs secrets.
export type Level = "debug" | "info" | "warn" | "error" | "silent";
const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether a line at this level would be written, so callers can skip building its fields. */
  enabled?(level: Exclude<Level, "silent">): boolean;
}

type Sink = { write(line: string): unknown };

export function createLogger(level: Level = "info", format: "json" | "pretty" = "json", sink?: Sink): Logger {
  const min = rank[level];
  // process.stderr is built on the first line written: it loads Node's stream layer (over a
  // millisecond), which a server that logs nothing while starting need not wait for.
  let out = sink;
  const write = (lvl: Exclude<Level, "silent">, msg: string, fields?: Record<string, unknown>) => {
    if (rank[lvl] < min) return;
    const time = new Date().toISOString();
    out ??= process.stderr;
    if (format === "json") out.write(JSON.stringify({ time, level: lvl, msg, ...fields }) + "\n");
    else {
      const extra = fields ? Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`) : [];
      out.write(`${time} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra.length ? " " + extra.join(" ") : ""}\n`);
    }
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    enabled: (lvl) => rank[lvl] >= min,
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false };
