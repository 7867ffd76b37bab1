// Starts the whole server: data directory, database and migrations, secret, hub, writer, HTTP and sockets.
import { join } from "node:path";
import type { Server } from "bun";
import { createApp } from "./app";
import type { Deps } from "./deps";
import { ConfigError, type Config } from "./config";
import type { Db } from "./db/client";
import { DB_FILE, ensureDataDir, openDataDir } from "./db/data-dir";
import { lockDataDir } from "./db/data-dir-lock";
import { fsCause } from "./lib/durable-file";
import { startCheckpointer, walBacklog, type Checkpointer } from "./db/checkpointer";
import { runMigrations } from "./db/migrate";
import { sqliteStorage } from "./db/stores";
import { externalChanges } from "./db/external-changes";
import { sqliteProbe } from "./db/probe";
import { isBusyFailure, sqliteMessageCommitter } from "./db/writer-thread";
import { createLogger, type Logger } from "./lib/logger";
import { configurePasswords } from "./modules/auth/passwords";
import { createTokenService } from "./modules/auth/tokens";
import { Telemetry } from "./modules/metrics/telemetry";
import { createChangeFeed } from "./modules/changes/feed";
import { DeliveryReceipts } from "./modules/messages/receipts";
import { RecentMessages } from "./modules/messages/recent";
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
import { loadOrCreateSecret, refuseUnservedDatabaseUrl, requireSharedSecret } from "./secret";
import { VERSION } from "./version";

const CHECKPOINTER_DELAY_MS = 100;

export interface RunningServer {
  url: string;
  port: number;
  server: Server<SocketData>;
  db: Db;
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
  refuseUnservedDatabaseUrl(config);
  ensureDataDir(config.dataDir);
  // Before anything touches the data: a second server must not even migrate under the first.
  const lock = lockDataDir(config.dataDir);
  if (!lock) log.warn("no flock() on this platform: nothing stops a second server on this data directory", { data_dir: config.dataDir });
  let db: Db;
  let secret: string;
  try {
    secret = loadOrCreateSecret(config.dataDir, config.jwtSecret);
    db = openDataDir(config, log, { quickCheck: "auto" });
  } catch (error) {
    lock?.release();
    throw error;
  }
  // Checkpoints run on their own thread; the event loop only checkpoints as a far-off fallback.
  // The thread starts just after the server is up: a second JS runtime booting beside the first
  // would slow the start on a small machine, and the WAL cannot need it that soon.
  db.$client.run("PRAGMA wal_autocheckpoint = 16384");
  let checkpointer: Checkpointer | null = null;
  const checkpointerTimer = setTimeout(() => {
    checkpointer = startCheckpointer(join(config.dataDir, DB_FILE), {
      synchronous: config.synchronous,
      onError: (error) => log.warn("checkpoint failed", { error }),
      onRecovered: (error) => log.info("checkpoint recovered", { error }),
    });
  }, CHECKPOINTER_DELAY_MS);
  checkpointerTimer.unref();
  configurePasswords({ memoryKib: config.passwordMemoryKib });
  // Attachments: the files directory (temporaries of unfinished uploads removed) and the sweep of unused uploads.
  prepareFilesDir(filesDirOf(config.dataDir));
  // The storage ports over this connection, and the caches in front of them (Deps.caches).
  const sqlite = sqliteStorage(db);
  const stopUploadSweeper = startUploadSweeper(sqlite, filesDirOf(config.dataDir), config.unusedUploadTtlSeconds, log);
  // --broker-url: the same local hub, plus the other instances' events through Redis.
  const hub = config.brokerUrl
    ? new RedisBus({ url: config.brokerUrl, log, repair: repairFromDatabase(sqlite), onRemote: followRemoteChanges(sqlite.caches.conversationStates) })
    : new BunHub();
  const storage = new StorageHealth(log, undefined, () => walBacklog(join(config.dataDir, DB_FILE)));
  const stopStorageWatch = storage.watch();
  let lost: (detail: string) => void = () => {};
  const storageLost = new Promise<string>((resolve) => (lost = resolve));
  const stopFileWatch = storage.watchFile(join(config.dataDir, DB_FILE), lost);
  const telemetry = new Telemetry(log, VERSION, storage);
  const changes = createChangeFeed(sqlite.caches.conversationStates, hub, log);
  const committer = sqliteMessageCommitter(db, { thread: config.writerThread, path: join(config.dataDir, DB_FILE), synchronous: config.synchronous, log });
  const writer = createMessageWriter(sqlite.stores.messages, changes, { committer, isBusyFailure, stats: telemetry.writerStats, storage });
  // The peer address is only known while Bun still holds the request (it can be gone once the body
  // has been read), so it is captured on arrival for the requests that may ask for it: writes (the
  // login rate limit) and every request when request logs are on. Reads skip the lookup.
  const addresses = new WeakMap<Request, string>();
  const logsAddresses = log.enabled?.("info") ?? true;
  const deps: Deps & { hub: BunHub } = {
    ...(hub instanceof RedisBus ? { limiters: sharedLimiters(config.brokerUrl, log) } : {}),
    stores: sqlite.stores,
    probe: sqliteProbe(db),
    storageChanges: externalChanges(db),
    caches: { ...sqlite.caches, recentMessages: new RecentMessages(sqlite.stores.messages) },
    receipts: new DeliveryReceipts(sqlite, changes),
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
  const webhooks = createWebhookWorker({
    path: join(config.dataDir, DB_FILE),
    client: db.$client,
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutSeconds * 1000,
    log,
  });
  const stopWakingWebhooks = changes.consume(() => webhooks.wake());
  telemetry.sources = { hub, sockets: sockets.stats, dbPath: join(config.dataDir, DB_FILE), clientAddress: deps.clientAddress, extra: [webhooks.metrics, ...(hub instanceof RedisBus ? [() => hub.metrics()] : [])] };

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
  log.info("listening", { url: server.url.href, data_dir: config.dataDir, version: VERSION });

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
      clearTimeout(checkpointerTimer);
      await checkpointer?.stop();
      try {
        db.$client.run("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch {}
      db.$client.close();
      lock?.release();
      log.info("stopped");
    })());

  return { url: server.url.href.replace(/\/$/, ""), port: server.port!, server, db, hub, writer, log, stop, storageLost, deps };
}
