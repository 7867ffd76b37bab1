// The one typed configuration: CLI flags, then environment variables, then defaults, validated once at start.

export class ConfigError extends Error {}

type Parser<T> = (raw: string, name: string) => T;

interface Setting<T> {
  flag: string;
  env: string;
  default: T;
  help: string;
  parse: Parser<T>;
}

const integer =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
    }
    return value;
  };

const text: Parser<string> = (raw) => raw;

const boolean: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
};

const list: Parser<string[]> = (raw) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

const oneOf =
  <const V extends string>(...values: V[]): Parser<V> =>
  (raw, name) => {
    if (!values.includes(raw as V)) throw new ConfigError(`${name} must be one of ${values.join(", ")}, got "${raw}"`);
    return raw as V;
  };

const brokerUrl: Parser<string> = (raw, name) => {
  if (raw !== "" && !/^(redis|rediss|valkey|valkeys):\/\/[^\s]+$/.test(raw)) throw new ConfigError(`${name} must be a redis://, rediss://, valkey:// or valkeys:// URL, got "${raw}"`);
  return raw;
};

const secret: Parser<string> = (raw, name) => {
  if (Buffer.byteLength(raw) < 32) throw new ConfigError(`${name} must be at least 32 bytes long`);
  return raw;
};

/** A PostgreSQL URL, or "" for SQLite in --data-dir. Checked here so a typo stops the start, not the first query. */
const postgresUrl: Parser<string> = (raw, name) => {
  if (raw === "") return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a postgres://user:password@host:port/database URL, got an unparseable value`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL, got "${url.protocol}//..."`);
  }
  return raw;
};

/** Every setting, in the order `--help` and the README list them. */
export const settings = {
  port: { flag: "--port", env: "CHAT_PORT", default: 8000, help: "TCP port to listen on (0 picks a free one)", parse: integer(0, 65535) },
  host: { flag: "--host", env: "CHAT_HOST", default: "0.0.0.0", help: "Address to bind", parse: text },
  dataDir: { flag: "--data-dir", env: "CHAT_DATA_DIR", default: "./data", help: "Directory holding the SQLite database and the generated JWT secret", parse: text },
  databaseUrl: { flag: "--database-url", env: "CHAT_DATABASE_URL", default: "", help: "postgres://user:password@host:port/database to store everything in PostgreSQL (several instances share it; needs --jwt-secret; --data-dir keeps the attachments' files); empty: SQLite in --data-dir", parse: postgresUrl },
  jwtSecret: { flag: "--jwt-secret", env: "CHAT_JWT_SECRET", default: "", help: "HS256 signing secret (>= 32 bytes); generated and persisted in the data directory when unset", parse: secret },
  tokenTtlSeconds: { flag: "--token-ttl", env: "CHAT_TOKEN_TTL", default: 86400, help: "Access token lifetime in seconds", parse: integer(60, 31_536_000) },
  logLevel: { flag: "--log-level", env: "CHAT_LOG_LEVEL", default: "info" as "debug" | "info" | "warn" | "error" | "silent", help: "debug, info, warn, error or silent", parse: oneOf("debug", "info", "warn", "error", "silent") },
  logFormat: { flag: "--log-format", env: "CHAT_LOG_FORMAT", default: "json" as "json" | "pretty", help: "json (one line per event) or pretty", parse: oneOf("json", "pretty") },
  maxBodyBytes: { flag: "--max-body-bytes", env: "CHAT_MAX_BODY_BYTES", default: 1_048_576, help: "Largest accepted request body (413 above)", parse: integer(1024, 104_857_600) },
  maxUploadBytes: { flag: "--max-upload-bytes", env: "CHAT_MAX_UPLOAD_BYTES", default: 26_214_400, help: "Largest accepted attachment (413 above, enforced while the upload streams)", parse: integer(1, 4_294_967_296) },
  uploadQuotaBytes: { flag: "--upload-quota-bytes", env: "CHAT_UPLOAD_QUOTA_BYTES", default: 1_073_741_824, help: "Attachment bytes one user may hold (413 quota_exceeded above)", parse: integer(1, Number.MAX_SAFE_INTEGER) },
  unusedUploadTtlSeconds: { flag: "--unused-upload-ttl", env: "CHAT_UNUSED_UPLOAD_TTL", default: 86_400, help: "Seconds an upload no message uses is kept before the sweep deletes it", parse: integer(1, 31_536_000) },
  allowedOrigins: { flag: "--allowed-origins", env: "CHAT_ALLOWED_ORIGINS", default: [] as string[], help: "Comma-separated Origins allowed to open sockets; empty allows any", parse: list },
  rateLimit: { flag: "--rate-limit", env: "CHAT_RATE_LIMIT", default: true, help: "Rate-limit logins, password checks, signups, group creation and socket frames (turn off for trusted test rigs)", parse: boolean },
  trustProxy: { flag: "--trust-proxy", env: "CHAT_TRUST_PROXY", default: false, help: "Take the client address from X-Forwarded-For (only behind your own proxy)", parse: boolean },
  passwordMemoryKib: { flag: "--password-memory-kib", env: "CHAT_PASSWORD_MEMORY_KIB", default: 19_456, help: "argon2id memory cost in KiB (OWASP minimum 19456)", parse: integer(19_456, 1_048_576) },
  wsMaxFramesPerSecond: { flag: "--ws-max-frames-per-second", env: "CHAT_WS_MAX_FRAMES_PER_SECOND", default: 50, help: "Frames per second one socket may send (bursts of twice that); frames over it wait their turn, and a socket with more than a burst's worth waiting is closed with 1008", parse: integer(1, 100_000) },
  wsMaxSocketsPerUser: { flag: "--ws-max-sockets-per-user", env: "CHAT_WS_MAX_SOCKETS_PER_USER", default: 20, help: "Open sockets one user may hold", parse: integer(1, 10_000) },
  wsMaxPendingPerAddress: { flag: "--ws-max-pending-per-address", env: "CHAT_WS_MAX_PENDING_PER_ADDRESS", default: 500, help: "Sockets one client address may hold open before sending their token (older idle ones are closed to admit new ones)", parse: integer(1, 100_000) },
  synchronous: { flag: "--synchronous", env: "CHAT_SQLITE_SYNCHRONOUS", default: "FULL" as "FULL" | "NORMAL", help: "SQLite synchronous mode; FULL survives power loss", parse: oneOf("FULL", "NORMAL") },
  writerThread: { flag: "--writer-thread", env: "CHAT_WRITER_THREAD", default: true, help: "Commit messages on a writer thread, so a slow or frozen disk never stops the event loop (false: inline on the event loop, 15–18 % more socket sends/s when the server is confined to one core, 6–9 % on two)", parse: boolean },
  webhookAllowPrivate: { flag: "--webhook-allow-private", env: "CHAT_WEBHOOK_ALLOW_PRIVATE", default: false, help: "Let webhooks target private, loopback and link-local addresses (off: refused at add and after DNS at each delivery)", parse: boolean },
  webhookTimeoutSeconds: { flag: "--webhook-timeout", env: "CHAT_WEBHOOK_TIMEOUT", default: 10, help: "Seconds a webhook receiver has to answer before the attempt counts as failed", parse: integer(1, 60) },
  brokerUrl: { flag: "--broker-url", env: "CHAT_BROKER_URL", default: "", help: "Redis (or Valkey) URL that fans events out to the other instances sharing the database; unset, fan-out stays in this process", parse: brokerUrl },
  metrics: { flag: "--metrics", env: "CHAT_METRICS", default: true, help: "Serve Prometheus metrics at /metrics", parse: boolean },
  metricsToken: { flag: "--metrics-token", env: "CHAT_METRICS_TOKEN", default: "", help: "When set, /metrics requires Authorization: Bearer <token>; unset on a non-loopback --host, only loopback clients may read it", parse: text },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof settings;
export type Config = { [K in keyof Settings]: Settings[K]["default"] };

/** Reads `--flag value` and `--flag=value` pairs; anything unknown is an error naming it. */
export function parseFlags(argv: string[]): Record<string, string> {
  const known = new Set(Object.values(settings).map((s) => s.flag));
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (!known.has(flag)) throw new ConfigError(`unknown flag ${flag} (see --help)`);
    let value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    out[flag] = value;
  }
  return out;
}

export function loadConfig(argv: string[] = [], env: Record<string, string | undefined> = process.env): Config {
  const flags = parseFlags(argv);
  const config: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    if (flags[s.flag] !== undefined) config[key] = s.parse(flags[s.flag]!, s.flag);
    else if (env[s.env] !== undefined && env[s.env] !== "") config[key] = s.parse(env[s.env]!, s.env);
    else config[key] = s.default;
  }
  // PORT is the de-facto variable of container platforms.
  if (flags["--port"] === undefined && !env.CHAT_PORT && env.PORT) config.port = settings.port.parse(env.PORT, "PORT");
  return config as Config;
}

export function settingsHelp(): string {
  return Object.values(settings)
    .map((s: Setting<unknown>) => {
      const def = Array.isArray(s.default) ? s.default.join(",") : String(s.default);
      return `  ${s.flag.padEnd(28)} ${s.help}\n  ${"".padEnd(28)} env ${s.env}${def ? `, default ${def}` : ""}`;
    })
    .join("\n");
}
