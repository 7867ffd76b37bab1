// The Hub across instances, through one Redis Stream (`--broker-url`). It is the local Bun hub
// (sockets, topics, memberships stay in this process) plus: every publish, membership move,
// session end and presence change is also appended to the stream with this instance's id, and a
// reader loop relays the other instances' entries to the local topics and sockets.
//
// Streams, not Redis pub/sub: a stream entry waits for a reader that was away for a moment (XREAD
// resumes after the last id it got), and Bun's built-in pub/sub is experimental and, on Bun
// 1.4.5, stops delivering after a Redis restart without an error. One stream for everything, not
// one per conversation shard: every instance must read every event anyway (any of them may hold a
// member's socket, and user topics cross conversations), so shards would multiply the reads
// without sharing the work; one stream is one blocking XREAD per instance and one order. Shards
// pay off only on Redis Cluster, where the stream's one key would pin one node.
//
// Guarantees: each instance tracks the revs it delivered per conversation (redis-gaps.ts); a rev
// missing past the grace period (an instance that crashed between commit and XADD, an XADD that
// failed, entries trimmed before a slow reader got them) is repaired from the database by the
// injected `repair`. After a broker outage (the reader failed, then reads again), every local
// authenticated socket is closed with 1012: during the outage not only messages were missed but
// membership moves and session ends too, and a reconnect rebuilds the socket's subscriptions from
// the database and the client's `sync` fetches exactly what it missed; replaying all of that in
// place would be a second, rarely run, copy of both paths.
import type { Awaitable } from "../ports/stores";
import type { Logger } from "../lib/logger";
import { BunHub, type ChatSocket } from "./bun-hub";
import { RedisConn } from "./redis-conn";
import { GapTracker, type Gap, type Repaired } from "./redis-gaps";
import { entriesOf, readMark, revOf, type Fields, type RemoteChange } from "./redis-entries";
import { brokerMetrics, type BrokerStats } from "./redis-metrics";
import { ClusterPresence } from "./redis-presence";

export type { BrokerStats, RemoteChange };

/** Close code for "the broker came back: reconnect and sync" (RFC 6455 service restart). */
export const CLOSE_BROKER_RESYNC = 1012;
/** Entries kept in the stream (approximately): minutes of traffic, for readers that fell behind. */
const STREAM_MAXLEN = 100_000;
const BLOCK_MS = 2_000;
const READ_COUNT = 1_000;
const MAX_BACKOFF_MS = 2_000;

export interface RedisBusOptions {
  url: string;
  log: Logger;
  /** Key prefix of the stream and presence keys (several clusters may share one Redis). */
  prefix?: string;
  instanceId?: string;
  /**
   * Publishes to this instance's sockets only (`bus.publishLocal`) what a gap left out, read
   * from the database; returns what it sent.
   */
  repair?: (gap: Gap, bus: RedisBus) => Awaitable<Repaired[]>;
  /** How long a missing rev may stay missing before it is repaired (events in flight arrive well within). */
  graceMs?: number;
  heartbeatMs?: number;
  /** Called for each change another instance committed, after its event was relayed. */
  onRemote?: (change: RemoteChange) => void;
}

export class RedisBus extends BunHub {
  readonly instanceId: string;
  readonly stats: BrokerStats = { relayed: 0, gapsRepaired: 0, errors: 0, resyncs: 0 };
  readonly gaps: GapTracker;
  private readonly key: string;
  private readonly writer: RedisConn;
  private readonly reader: RedisConn;
  private readonly presence: ClusterPresence;
  private readonly log: Logger;
  private readonly repair: RedisBusOptions["repair"];
  private readonly repairing = new Set<string>();
  private readonly onRemote: RedisBusOptions["onRemote"];
  private readonly heartbeatMs: number;
  private down = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(options: RedisBusOptions) {
    super();
    const prefix = options.prefix ?? "chat";
    this.instanceId = options.instanceId ?? Bun.randomUUIDv7();
    this.key = `${prefix}:events`;
    this.log = options.log;
    this.repair = options.repair;
    this.onRemote = options.onRemote;
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.gaps = new GapTracker(options.graceMs ?? 1_000);
    const counted = (error: unknown) => {
      this.stats.errors++;
      this.log.debug("broker command failed", { error: String(error) });
    };
    this.writer = new RedisConn(options.url, counted);
    this.reader = new RedisConn(options.url, counted);
    this.presence = new ClusterPresence(this.writer, prefix, this.instanceId, this.heartbeatMs * 3);
  }

  /** Starts the reader, the gap checks and the heartbeat; resolves once the first heartbeat is done or failed. */
  async start() {
    this.loop = this.readLoop();
    this.timers.push(setInterval(() => this.repairGaps(), Math.max(50, this.gaps.graceMs / 2)));
    this.timers.push(setInterval(() => void this.beat(), this.heartbeatMs));
    for (const timer of this.timers) timer.unref();
    await this.beat();
  }

  /** ok while the reader reads; unreachable from its first failure until it reads again. */
  brokerState(): "ok" | "unreachable" {
    return this.down ? "unreachable" : "ok";
  }

  /** This instance's broker counters in Prometheus text (appended to /metrics). */
  metrics(): string {
    return brokerMetrics(this.stats, !this.down);
  }

  // ---- the Hub, local first, then the stream ----

  override publish(topic: string, event: object) {
    const payload = JSON.stringify(event);
    this.published++;
    super.publishEncoded([topic], payload);
    const mark = revOf(topic, event);
    if (!mark) return this.append({ k: "p", t: topic, d: payload, ...readMark(event) });
    this.gaps.note(mark.c, mark.r, mark.s);
    this.append({ k: "p", t: topic, d: payload, c: mark.c, r: String(mark.r), ...(mark.s === undefined ? {} : { s: String(mark.s) }) });
  }

  override publishEncoded(topics: Iterable<string>, payload: string) {
    const list = [...topics];
    super.publishEncoded(list, payload);
    if (list.length > 0) this.append({ k: "p", t: list.join(" "), d: payload });
  }

  /** Publishes to this instance's sockets only (the repair of a gap: the others repair their own). */
  publishLocal(topic: string, event: object) {
    super.publishEncoded([topic], JSON.stringify(event));
  }

  override joinConversation(conversationId: string, userIds: string[]) {
    super.joinConversation(conversationId, userIds);
    if (userIds.length > 0) this.append({ k: "j", c: conversationId, u: userIds.join(",") });
  }

  override leaveConversation(conversationId: string, userIds: string[]) {
    super.leaveConversation(conversationId, userIds);
    if (userIds.length > 0) this.append({ k: "l", c: conversationId, u: userIds.join(",") });
  }

  override endSessions(userId: string, reason: string, apiTokenId?: string) {
    super.endSessions(userId, reason, apiTokenId);
    this.append({ k: "e", u: userId, m: reason, ...(apiTokenId === undefined ? {} : { a: apiTokenId }) });
  }

  override isOnline(userId: string) {
    return super.isOnline(userId) || this.presence.has(userId);
  }

  /** Online on another instance (presence.ts announces coming and going only for the cluster's first and last). */
  onlineElsewhere(userId: string) {
    return this.presence.has(userId);
  }

  override add(ws: ChatSocket, userId: string, conversationIds: string[]) {
    const first = super.add(ws, userId, conversationIds);
    if (first) this.announce(userId, true);
    return first;
  }

  /** The user's last local socket closed and its grace period passed without a reconnect. */
  wentOffline(userId: string) {
    if (this.socketCount(userId) === 0) this.announce(userId, false);
  }

  private announce(userId: string, online: boolean) {
    void this.presence.noteLocal(userId, online).catch(() => {});
    this.append({ k: online ? "on" : "off", u: userId });
  }

  // ---- the stream ----

  private append(fields: Fields) {
    if (this.stopped) return;
    const args = [this.key, "MAXLEN", "~", String(STREAM_MAXLEN), "*", "i", this.instanceId];
    for (const name in fields) args.push(name, fields[name]!);
    // Counted by the connection; the others repair what they miss (gaps, or the outage resync).
    this.writer.send("XADD", args).catch(() => {});
  }

  private async readLoop() {
    let lastId: string | null = null;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (lastId === null) {
          // From the stream's current end: what came before is either this instance's past or,
          // after an outage, covered by the resync.
          const last = (await this.reader.send("XREVRANGE", [this.key, "+", "-", "COUNT", "1"])) as [string, unknown][] | null;
          lastId = last?.[0]?.[0] ?? "0-0";
          if (this.down) this.recovered();
        }
        const reply = await this.reader.send("XREAD", ["BLOCK", String(BLOCK_MS), "COUNT", String(READ_COUNT), "STREAMS", this.key, lastId]);
        failures = 0;
        for (const [id, flat] of entriesOf(reply, this.key)) {
          lastId = id;
          try {
            this.relay(flat);
          } catch (error) {
            // One entry this version cannot read (written by something else): skipped, not an outage.
            this.log.warn("broker entry skipped", { id, error: String(error) });
          }
        }
      } catch (error) {
        if (this.stopped) break;
        if (!this.down) this.log.warn("broker unreachable", { error: String(error) });
        this.down = true;
        lastId = null;
        await Bun.sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** failures++));
      }
    }
  }

  private recovered() {
    this.down = false;
    this.stats.resyncs++;
    this.log.warn("broker reachable again: closing local sockets so clients resync", { sockets: this.openSockets });
    this.gaps.clear();
    this.presence.clear();
    // Before the sockets close: their clients' sync must read what the outage hid, not the cache.
    this.onRemote?.({ kind: "outage" });
    void this.beat();
    for (const ws of [...this.all()]) ws.close(CLOSE_BROKER_RESYNC, "broker reconnected: sync");
  }

  private relay(flat: string[]) {
    const f: Fields = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
    if (f.i === this.instanceId) return;
    this.stats.relayed++;
    switch (f.k) {
      case "p": {
        if (f.rd) {
          const [userId, seq] = f.rd.split(" ");
          this.onRemote?.({ kind: "read", conversationId: f.c!, userId: userId!, seq: Number(seq) });
        }
        if (!f.c || !f.r) return super.publishEncoded(f.t!.split(" "), f.d!);
        const rev = Number(f.r);
        const seq = f.s ? Number(f.s) : undefined;
        // An entry that arrives after its rev was repaired from the database was delivered already.
        if (!this.gaps.wasRepaired(f.c, rev)) super.publishEncoded(f.t!.split(" "), f.d!);
        this.gaps.note(f.c, rev, seq);
        this.onRemote?.({ kind: "revision", conversationId: f.c, rev, ...(seq === undefined ? {} : { seq }) });
        return;
      }
      case "j":
      case "l":
        if (f.k === "j") super.joinConversation(f.c!, f.u!.split(","));
        else super.leaveConversation(f.c!, f.u!.split(","));
        this.onRemote?.({ kind: "members", conversationId: f.c! });
        return;
      case "e":
        return super.endSessions(f.u!, f.m ?? "session ended", f.a);
      case "on":
      case "off":
        return this.presence.noteRemote(f.i!, f.u!, f.k === "on");
      case "x":
        return this.presence.dropInstance(f.i!);
    }
  }

  private repairGaps() {
    for (const gap of this.gaps.due()) {
      // A repair still reading (a networked store) is not started twice.
      if (this.repairing.has(gap.conversationId)) continue;
      const failed = (error: unknown) =>
        // Tried again at the next check (the database may be briefly unreadable).
        this.log.warn("gap repair failed", { conversation_id: gap.conversationId, error: String(error) });
      const done = (sent: Repaired[] | undefined) => {
        this.gaps.repaired(gap, sent);
        this.stats.gapsRepaired++;
        this.log.info("repaired a gap from the database", { conversation_id: gap.conversationId, after_rev: gap.afterRev, until_rev: gap.untilRev });
      };
      try {
        const sent = this.repair?.(gap, this);
        if (!(sent instanceof Promise)) {
          done(sent);
          continue;
        }
        this.repairing.add(gap.conversationId);
        sent.then(done, failed).finally(() => this.repairing.delete(gap.conversationId));
      } catch (error) {
        failed(error);
      }
    }
  }

  private async beat() {
    try {
      await this.presence.heartbeat([...new Set([...this.connectedUsers(), ...this.lingering])]);
    } catch {
      // Counted by the connection; the reader reports the outage.
    }
  }

  /** Leaves the cluster: tells the others this instance's users are gone, stops the reader. */
  async stop() {
    if (this.stopped) return;
    this.append({ k: "x" });
    await this.presence.leave().catch(() => {});
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.reader.close();
    this.writer.close();
    await this.loop;
  }
}
