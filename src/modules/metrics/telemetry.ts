// Telemetry: one log line per HTTP request and per socket session, and the metrics they feed.
// The server wraps its fetch and websocket handlers with it; Elysia hooks only tag each request
// with its route template and user (a WeakMap write), so the hot path stays a few lookups.
import { statSync } from "node:fs";
import type { WebSocketHandler } from "bun";
import type { Logger } from "../../lib/logger";
import type { WriterStats } from "../messages/writer";
import type { StorageHealth } from "../../storage-health";
import { Counter, gauge, Histogram } from "./registry";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Incoming ids are echoed and logged, so only plain tokens are accepted (no log injection). */
const REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;
/** The route label of requests no route matched, so scanners cannot blow up label cardinality. */
export const UNMATCHED = "unmatched";

export interface TagContext {
  request: Request;
  route?: string;
  user?: { id: string } | null;
}

export interface TelemetrySources {
  hub?: { readonly openSockets: number; readonly published: number };
  sockets?: { readonly unauthenticated: number };
  /** The SQLite file; its -wal sibling is measured too. */
  dbPath?: string;
  /** The database's size otherwise (PostgreSQL), as last sampled. */
  databaseSize?: () => number;
  clientAddress?: (request: Request) => string;
  /** More exposition text appended at scrape time (the webhook worker's counters). */
  extra?: (() => string)[];
}

interface SessionData {
  userId: string | null;
  id?: number;
  openedAt?: number;
  framesIn?: number;
}

/** The path without its query string (cursors, search terms and anything secret stay out of logs). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class Telemetry {
  /** Handed to the message writer, which counts batches and stored messages into it. */
  readonly writerStats: WriterStats = { batches: 0, messages: 0 };
  sources: TelemetrySources = {};
  private readonly tags = new WeakMap<Request, { route: string; userId: string | null }>();
  private readonly requests = new Counter("chat_http_requests_total", "HTTP requests by method, route template and status.");
  private readonly latency = new Histogram("chat_http_request_duration_seconds", "HTTP request latency by method and route template.", BUCKETS);
  private readonly sessions = new Counter("chat_websocket_sessions_total", "WebSocket sessions closed, by whether they authenticated.");
  private framesIn = 0;
  private readonly startedAt = Date.now();
  private readonly logRequests: boolean;

  constructor(
    private readonly log: Logger,
    private readonly version: string,
    private readonly storage?: StorageHealth,
  ) {
    this.logRequests = log.enabled?.("info") ?? true;
  }

  /**
   * Elysia hook (afterHandle and onError). Destructured on purpose: Elysia reads a hook's parameter
   * list to decide what to build per request, and this one needs nothing beyond these three.
   */
  readonly tagHook = ({ request, route, user }: TagContext) => {
    this.tags.set(request, { route: route || UNMATCHED, userId: user?.id ?? null });
  };

  /** Runs one request through `handle`, echoes its request id, records it and logs one line. */
  async observe(request: Request, handle: (request: Request) => Response | Promise<Response>): Promise<Response> {
    const start = performance.now();
    let response: Response;
    try {
      response = await handle(request);
    } catch (error) {
      this.finish(request, 500, start, null);
      throw error;
    }
    this.finish(request, response.status, start, response);
    return response;
  }

  private finish(request: Request, status: number, start: number, response: Response | null) {
    const seconds = (performance.now() - start) / 1000;
    const given = request.headers.get("x-request-id");
    const requestId = given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    try {
      response?.headers.set("x-request-id", requestId);
    } catch {
      // Immutable headers (a proxied Response): the id is still logged.
    }
    const tag = this.tags.get(request);
    const route = tag?.route ?? UNMATCHED;
    const method = request.method;
    const key = method + " " + route;
    this.requests.inc(key + " " + status, () => ({ method, route, status }));
    this.latency.observe(key, () => ({ method, route }), seconds);
    if (!this.logRequests) return;
    this.log.info("request", {
      method,
      path: pathOf(request.url),
      route,
      status,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      user_id: tag?.userId ?? null,
      request_id: requestId,
      ip: this.sources.clientAddress?.(request),
    });
  }

  /** Wraps the socket handlers to count frames and log one line per session when it closes. */
  wrapSockets<T extends SessionData>(handler: WebSocketHandler<T>): WebSocketHandler<T> {
    return {
      ...handler,
      open: (ws) => {
        ws.data.openedAt = performance.now();
        ws.data.framesIn = 0;
        return handler.open?.(ws);
      },
      message: (ws, message) => {
        ws.data.framesIn = (ws.data.framesIn ?? 0) + 1;
        this.framesIn++;
        return handler.message?.(ws, message);
      },
      close: (ws, code, reason) => {
        handler.close?.(ws, code, reason);
        const data = ws.data;
        const authenticated = data.userId ? "true" : "false";
        this.sessions.inc(authenticated, () => ({ authenticated }));
        if (!this.logRequests) return;
        this.log.info("socket closed", {
          socket_id: data.id,
          user_id: data.userId,
          duration_ms: Math.round(performance.now() - (data.openedAt ?? performance.now())),
          frames_in: data.framesIn ?? 0,
          code,
          reason: reason || undefined,
        });
      },
    };
  }

  /** The Prometheus text exposition of everything above plus the gauges read now. */
  render(): string {
    const { hub, sockets, dbPath, databaseSize } = this.sources;
    const memory = process.memoryUsage();
    const parts = [
      gauge("chat_build_info", "The running version.", [[{ version: this.version }, 1]]),
      this.requests.render(),
      this.latency.render(),
      gauge("chat_websocket_connections", "Open WebSocket connections, by whether they have authenticated.", [
        [{ state: "authenticated" }, hub?.openSockets ?? 0],
        [{ state: "pending" }, sockets?.unauthenticated ?? 0],
      ]),
      this.sessions.render(),
      gauge("chat_websocket_frames_received_total", "Frames received from clients.", [[{}, this.framesIn]], "counter"),
      gauge("chat_messages_stored_total", "Messages committed to the database (idempotent repeats excluded).", [[{}, this.writerStats.messages]], "counter"),
      gauge("chat_message_batches_total", "Group-commit transactions written.", [[{}, this.writerStats.batches]], "counter"),
      gauge("chat_events_published_total", "Events published to conversation and user topics (each fans out to every subscribed socket).", [[{}, hub?.published ?? 0]], "counter"),
      gauge(
        "chat_storage_write_failures_total",
        "Writes (message sends over REST and sockets, other REST writes) refused by storage: full disk, I/O error, read-only, cannot open.",
        [...(this.storage?.failures ?? [])].map(([reason, n]) => [{ reason }, n]),
        "counter",
      ),
      gauge("chat_storage_healthy", "1 while writes go through; 0 while the last write failed or a commit has waited on the disk > 2 s.", [[{}, this.storage?.problem() ? 0 : 1]]),
      gauge("chat_storage_commit_pending_seconds", "How long the current message commit has been waiting (0 when none is).", [[{}, (this.storage?.pendingMs ?? 0) / 1000]]),
      gauge("chat_database_size_bytes", "Size of the database: the SQLite file, or PostgreSQL's pg_database_size sampled at most 10 s ago.", [
        [{}, dbPath ? fileSize(dbPath) : (databaseSize?.() ?? 0)],
      ]),
      gauge("chat_database_wal_size_bytes", "Size of the SQLite write-ahead log.", [[{}, dbPath ? fileSize(dbPath + "-wal") : 0]]),
      gauge("process_resident_memory_bytes", "Resident memory size.", [[{}, memory.rss]]),
      gauge("process_heap_used_bytes", "JavaScript heap in use.", [[{}, memory.heapUsed]]),
      gauge("process_heap_total_bytes", "JavaScript heap reserved.", [[{}, memory.heapTotal]]),
      gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.", [[{}, Math.floor(this.startedAt / 1000)]]),
      ...(this.sources.extra ?? []).map((render) => render()),
    ];
    return parts.join("\n") + "\n";
  }
}
