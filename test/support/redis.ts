// A real redis-server for the broker tests (a free loopback port, a temp dir, no persistence),
// and a second app instance over the same database with its own Bun.serve and its own RedisBus:
// the data-dir lock is per process, so "two instances" in one test process share A's database
// handle (and the caches kept per handle) but nothing of the fan-out.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server, Subprocess } from "bun";
import { RedisClient } from "bun";
import { createApp } from "../../src/app";
import type { Deps } from "../../src/deps";
import { silentLogger } from "../../src/lib/logger";
import { withResponsePolicy } from "../../src/http/response-policy";
import { createChangeFeed } from "../../src/modules/changes/feed";
import { sqliteStorage } from "../../src/db/stores";
import { isBusyFailure, sqliteMessageCommitter } from "../../src/db/writer-thread";
import { createMessageWriter } from "../../src/modules/messages/writer";
import type { SocketData } from "../../src/realtime/bun-hub";
import { CLOSE } from "../../src/realtime/protocol";
import { RedisBus, type RedisBusOptions } from "../../src/realtime/redis-bus";
import { sharedLimiters } from "../../src/realtime/redis-limiter";
import { repairFromDatabase } from "../../src/realtime/redis-repair";
import { createSocketEndpoint, WS_PATH } from "../../src/realtime/socket";
import type { Config } from "../../src/config";
import { startTestServer, type TestServer } from "./server";

export const REDIS_SERVER = Bun.which("redis-server") ?? "/usr/bin/redis-server";
export const redisAvailable = existsSync(REDIS_SERVER);
if (!redisAvailable) console.warn(`[redis] ${REDIS_SERVER} not found: broker tests are skipped (CI installs it: scripts/ci-install-redis.sh)`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  private proc: Subprocess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), mkdtempSync(join(tmpdir(), "chat-redis-")));
    await redis.run();
    return redis;
  }

  /** Starts (or restarts, on the same port and empty) the server and waits until it answers. */
  async run() {
    this.proc = Bun.spawn(
      [REDIS_SERVER, "--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "no", "--protected-mode", "no"],
      { stdout: "ignore", stderr: "ignore" },
    );
    for (let i = 0; ; i++) {
      const client = new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 500 });
      try {
        await client.connect();
        await client.send("PING", []);
        return;
      } catch (error) {
        if (i > 200) throw new Error(`redis-server did not start: ${error}`);
        await Bun.sleep(25);
      } finally {
        client.close();
      }
    }
  }

  /** kill -9: no goodbye to the clients, the stream is gone with it. */
  async kill() {
    this.proc?.kill(9);
    await this.proc?.exited;
    this.proc = null;
  }

  async stop() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SecondInstance {
  url: string;
  hub: RedisBus;
  server: Server<SocketData>;
  deps: Deps;
  close(): Promise<void>;
}

/** Another app over A's database: its own change feed, writer, RedisBus, app, sockets and Bun.serve. */
export async function startSecondInstance(a: TestServer, brokerUrl: string, bus: Partial<RedisBusOptions> = {}): Promise<SecondInstance> {
  const db = a.db;
  const storage = sqliteStorage(db);
  const hub = new RedisBus({ url: brokerUrl, log: silentLogger, repair: repairFromDatabase(storage), ...bus });
  const changes = createChangeFeed(storage.caches.conversationStates, hub, silentLogger);
  const writer = createMessageWriter(storage.stores.messages, changes, { committer: sqliteMessageCommitter(db), isBusyFailure });
  const limiters = sharedLimiters(brokerUrl, silentLogger);
  const deps: Deps & { hub: RedisBus } = {
    ...a.deps,
    hub,
    changes,
    writer,
    limiters,
    telemetry: undefined,
    clientAddress: () => "127.0.0.1",
    peerAddress: () => "127.0.0.1",
  };
  const app = createApp(deps);
  app.compile();
  const handle = withResponsePolicy(app.fetch);
  const sockets = createSocketEndpoint(deps);
  const server = Bun.serve<SocketData>({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    fetch(request, server) {
      if (new URL(request.url).pathname === WS_PATH && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
        return sockets.upgrade(request, server);
      }
      return handle(request);
    },
    websocket: sockets.websocket,
  });
  hub.attach(server);
  await hub.start();
  return {
    url: server.url.href.replace(/\/$/, ""),
    hub,
    server,
    deps,
    async close() {
      for (const ws of hub.all()) ws.close(CLOSE.goingAway, "server shutting down");
      await server.stop(true);
      await hub.stop();
      limiters.close();
      await writer.close();
    },
  };
}

export interface TestCluster {
  redis: TestRedis;
  /** The test server (its own process-wide data dir) with --broker-url. */
  a: TestServer;
  /** A second instance over A's database. */
  b: SecondInstance;
  close(): Promise<void>;
}

/** A redis-server, instance A (the real server with --broker-url) and instance B beside it. */
export async function startCluster(overrides: Partial<Config> = {}): Promise<TestCluster> {
  const redis = await TestRedis.start();
  const a = await startTestServer({ ...overrides, brokerUrl: redis.url });
  const b = await startSecondInstance(a, redis.url);
  return {
    redis,
    a,
    b,
    async close() {
      await b.close();
      await a.close();
      await redis.stop();
    },
  };
}
