// Starts the whole server: data directory, database and migrations, secret, hub, writer, HTTP and sockets.
import type { Server } from "bun";
import { createApp } from "./app";
import type { Deps } from "./deps";
import { ConfigError, type Config } from "./config";
import type { Db } from "./db/client";
import { ensureDataDir } from "./db/data-dir";
import { lockDataDir } from "./db/data-dir-lock";
import { composeSqlite } from "./db/compose";
import type { SqliteStorage } from "./db/stores";
import { composePostgres } from "./storage/postgres/compose";
import type { PgDb } from "./storage/postgres/client";
import type { ComposedEngine } from "./ports/engine";
import { createLogger, type Logger } from "./lib/logger";
import { configurePasswords } from "./modules/auth/passwords";
import { createTokenService } from "./modules/auth/tokens";
import { Telemetry } from "./modules/metrics/telemetry";
import { createChangeFeed } from "./modules/changes/feed";
import { DeliveryReceipts } from "./modules/messages/receipts";
import { NO_RECENT_MESSAGES, RecentMessages } from "./modules/messages/recent";
import { filesDirOf, prepareFilesDir } from "./modules/attachments/store";
import { startUploadSweeper } from "./modules/attachments/sweeper";
import { createMessageWriter, type MessageWriter } from "./modules/messages/writer";
import { createWebhookWorker } from "./modules/webhooks/worker";
import { StorageHealth } from "./storage-health";
import { BunHub, type SocketData } from "./realtime/bun-hub";
import { RedisBus } from "./realtime/redis-bus";
import { sharedLimiters } from "./realtime/redis-limiter";
import { followRemoteChanges } from "./realtime/redis-caches";
import { repairFromDatabase } from "./realtime/redis-repair";
import { CLOSE } from "./realtime/protocol";
import { createSocketEndpoint, WS_PATH } from "./realtime/socket";
import { routable } from "./http/routing";
import { JSON_CSP, withResponsePolicy } from "./http/response-policy";
import { loadOrCreateSecret, requireSharedSecret } from "./secret";
import { VERSION } from "./version";

export interface RunningServer {
  url: string;
  port: number;
  server: Server<SocketData>;
  /** The SQLite database (tests look at it directly); on PostgreSQL any use throws: see `pg`. */
  db: Db;
  /** The SQLite database, or null on PostgreSQL. */
  sqlite: Db | null;
  /** The PostgreSQL database (--database-url), or null on SQLite. */
  pg: PgDb | null;
  hub: BunHub;
  writer: MessageWriter;
  log: Logger;
  /** Drains: stops accepting, closes sockets with 1001, writes queued messages, checkpoints, closes the DB. */
  stop(): Promise<void>;
  /** Resolves (with why) when the open database can no longer be written and a restart would help. */
  storageLost: Promise<string>;
  /** What the app was built from (a test builds a second instance over the same database from it). */
  deps: Deps & { hub: BunHub };
}


export async function startServer(config: Config, log: Logger = createLogger(config.logLevel, config.logFormat)): Promise<RunningServer> {
  requireSharedSecret(config);
  ensureDataDir(config.dataDir);
  // Before anything touches the data: a second server must not even migrate under the first.
  const lock = lockDataDir(config.dataDir);
  if (!lock) log.warn("no flock() on this platform: nothing stops a second server on this data directory", { data_dir: config.dataDir });
  let secret: string;
  let engine: (ComposedEngine & { db: Db; storage: SqliteStorage }) | (ComposedEngine & { pg: PgDb });
  try {
    secret = loadOrCreateSecret(config.dataDir, config.jwtSecret);
    engine = config.databaseUrl ? await composePostgres(config, log) : composeSqlite(config, log);
  } catch (error) {
    lock?.release();
    throw error;
  }
  configurePasswords({ memoryKib: config.passwordMemoryKib });
  // Attachments: the files directory (temporaries of unfinished uploads removed); the sweep of unused uploads starts below.
  prepareFilesDir(filesDirOf(config.dataDir));
  // The storage ports, and the caches in front of them (Deps.caches).
  const { storage: stored } = engine;
  // --broker-url: the same local hub, plus the other instances' events through Redis.
  const hub = config.brokerUrl
    ? new RedisBus({ url: config.brokerUrl, log, repair: repairFromDatabase(stored), onRemote: followRemoteChanges(stored.caches.conversationStates) })
    : new BunHub();
  const storage = new StorageHealth(log, undefined, engine.walBacklog, engine.engine === "sqlite");
  const stopStorageWatch = storage.watch();
  const stopUploadSweeper = startUploadSweeper(stored, filesDirOf(config.dataDir), config.unusedUploadTtlSeconds, log, () => storage.writesWait());
  let lost: (detail: string) => void = () => {};
  const storageLost = new Promise<string>((resolve) => (lost = resolve));
  const stopFileWatch = engine.watchedFile ? storage.watchFile(engine.watchedFile, lost) : () => {};
  const telemetry = new Telemetry(log, VERSION, storage);
  const changes = createChangeFeed(stored.caches.conversationStates, hub, log);
  // Webhook outcomes are recorded between two message commits, when the write lock is free (set below).
  let recordWebhookOutcomes = () => {};
  const writer = createMessageWriter(stored.stores.messages, changes, {
    committer: engine.committer,
    isBusyFailure: engine.isBusyFailure,
    stats: telemetry.writerStats,
    storage,
    betweenCommits: () => recordWebhookOutcomes(),
  });
  // The peer address is only known while Bun still holds the request (it can be gone once the body
  // has been read), so it is captured on arrival for the requests that may ask for it: writes (the
  // login rate limit) and every request when request logs are on. Reads skip the lookup.
  const addresses = new WeakMap<Request, string>();
  const logsAddresses = log.enabled?.("info") ?? true;
  const deps: Deps & { hub: BunHub } = {
    ...(hub instanceof RedisBus ? { limiters: sharedLimiters(config.brokerUrl, log) } : {}),
    stores: stored.stores,
    probe: engine.probe,
    ...(engine.storageChanges ? { storageChanges: engine.storageChanges } : {}),
    caches: { ...stored.caches, recentMessages: "db" in engine ? new RecentMessages(engine.storage.stores.messages) : NO_RECENT_MESSAGES },
    receipts: new DeliveryReceipts(stored, changes, () => storage.writesWait()),
    config,
    hub,
    log,
    writer,
    changes,
    storage,
    version: VERSION,
    telemetry,
    tokens: createTokenService(secret, config.tokenTtlSeconds),
    clientAddress(request) {
      if (config.trustProxy) {
        const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
        if (forwarded) return forwarded;
      }
      return addresses.get(request) ?? server.requestIP(request)?.address ?? "unknown";
    },
    peerAddress: (request) => addresses.get(request) ?? server.requestIP(request)?.address ?? "unknown",
  };
  const app = createApp(deps);
  app.compile();
  // The compiled router itself (`app.handle` only wraps it in one more async call), plus the
  // headers and compression every response gets.
  const handle = withResponsePolicy(app.fetch);
  const sockets = createSocketEndpoint(deps);
  // Webhook deliveries: the outbox rows are written by triggers; a commit only wakes the worker.
  // Several instances share a PostgreSQL outbox: claims are leases (storage/postgres/stores/webhook-outbox.ts).
  const webhooks = createWebhookWorker({
    outbox: engine.webhookOutbox,
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutSeconds * 1000,
    log,
    writesWait: () => storage.writesWait(),
  });
  recordWebhookOutcomes = webhooks.recordOutcomes;
  const stopWakingWebhooks = changes.consume(() => webhooks.wake());
  telemetry.sources = {
    hub,
    sockets: sockets.stats,
    ...(engine.databaseFile ? { dbPath: engine.databaseFile } : {}),
    ...(engine.databaseSize ? { databaseSize: engine.databaseSize } : {}),
    clientAddress: deps.clientAddress,
    extra: [webhooks.metrics, ...(hub instanceof RedisBus ? [() => hub.metrics()] : [])],
  };

  const server = Bun.serve<SocketData>({
    port: config.port,
    hostname: config.host,
    // Above our own limits (bodies, and uploads with their multipart framing) so oversize bodies
    // reach the app and get a 413 in the contract's shape.
    maxRequestBodySize: Math.max(config.maxBodyBytes * 2, config.maxUploadBytes + 1024 * 1024) + 1024 * 1024,
    development: false,
    fetch(received, server) {
      // A rebuilt request (odd Host) is no longer Bun's, so its peer address is always captured.
      const request = routable(received);
      if (logsAddresses || request.method !== "GET" || request !== received) {
        const ip = server.requestIP(received);
        if (ip) addresses.set(request, ip.address);
      }
      // The URL is parsed only when it could be the socket path (a query string may follow it).
      if (request.url.includes(WS_PATH) && new URL(request.url).pathname === WS_PATH) {
        if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return sockets.upgrade(received, server);
      }
      // While a commit waits on a stalled disk, writes wait for it here rather than block the loop.
      if (request.method !== "GET" && request.method !== "HEAD") {
        const stalled = storage.writesWait();
        if (stalled) return stalled.then(() => telemetry.observe(request, handle));
      }
      return telemetry.observe(request, handle);
    },
    websocket: telemetry.wrapSockets(sockets.websocket),
    error(error) {
      log.error("unhandled server error", { error: String(error) });
      return new Response(JSON.stringify({ detail: "Internal server error", code: "internal_error" }), {
        status: 500,
        headers: { "content-type": "application/json", "x-content-type-options": "nosniff", "content-security-policy": JSON_CSP },
      });
    },
  });
  hub.attach(server);
  if (hub instanceof RedisBus) await hub.start();
  engine.started();
  log.info("listening", { url: server.url.href, data_dir: config.dataDir, database: engine.engine, version: VERSION });

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      for (const ws of hub.all()) ws.close(CLOSE.goingAway, "server shutting down");
      await server.stop(false);
      if (hub instanceof RedisBus) await hub.stop();
      deps.limiters?.close();
      stopUploadSweeper();
      await writer.close();
      stopWakingWebhooks();
      await webhooks.stop();
      stopStorageWatch();
      stopFileWatch();
      await engine.close();
      lock?.release();
      log.info("stopped");
    })());

  const db = "db" in engine ? engine.db : null;
  const pg = "pg" in engine ? engine.pg : null;
  return { url: server.url.href.replace(/\/$/, ""), port: server.port!, server, db: db ?? sqliteOnly(), sqlite: db, pg, hub, writer, log, stop, storageLost, deps };
}

/** Stands for the SQLite handle on PostgreSQL: code that reaches for it fails with a message that says why. */
function sqliteOnly(): Db {
  return new Proxy({} as Db, {
    get(_target, property) {
      throw new Error(`RunningServer.db.${String(property)}: this server runs on PostgreSQL (--database-url); use RunningServer.pg`);
    },
  });
}
