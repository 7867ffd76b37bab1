// A socket that stays connected and never misses a message: it reconnects with exponential backoff
// and jitter, catches up after every `ready` (sync with its positions, again while has_more), hands
// out each message once and in seq order per conversation, and resends unacknowledged sends with
// their client_msg_id (the server stores each once). v2 servers' revisions are followed too: a rev
// that jumps asks for `changes`.
import { Cursors } from "./cursors";
import type { ClientFrame, ErrorFrame, Message, SendMessageFrame, ServerFrame } from "./frames";

/** A conversation as discovery reports it: where it stands now. */
export interface ConversationPosition {
  id: string;
  /** Its latest seq (0 when empty). */
  seq: number;
  /** Its rev on v2 servers. */
  rev?: number;
}

export interface SocketOptions {
  /**
   * Positions the app already holds (conversation id → last seq it has), e.g. saved from
   * `positions()` last time. Given: every message after them is delivered, and conversations not in
   * it from their start. Left out: the socket starts from the present (history is the REST API's job).
   */
  since?: Record<string, number>;
  /** v2: revs the app already holds (conversation id → rev), like `since`. */
  revs?: Record<string, number>;
  /** First reconnect delay; it doubles per failed attempt up to maxDelayMs, each with random jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A ping when nothing arrived for this long; no answer within the same time: reconnect. 0: off. */
  heartbeatMs?: number;
  /** The WebSocket class (a browser's or Bun's by default). */
  WebSocket?: typeof WebSocket;
}

export interface SocketInternals {
  url: string;
  token(): Promise<string | null | undefined>;
  /** The caller's conversations and where they stand (REST), to follow ones the socket never saw. */
  discover(): Promise<ConversationPosition[]>;
}

type FrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

export interface SocketEvents {
  /** Each message once, in seq order per conversation (live, or from catching up). */
  new_message: FrameOf<"new_message">;
  message_read: FrameOf<"message_read">;
  user_typing: FrameOf<"user_typing">;
  presence: FrameOf<"presence">;
  /** v2: an edit, delete (tombstone) or reaction, each state once. */
  message_updated: FrameOf<"message_updated">;
  conversation_updated: FrameOf<"conversation_updated">;
  conversation_removed: FrameOf<"conversation_removed">;
  message_delivered: FrameOf<"message_delivered">;
  /** Authenticated (every reconnect too). */
  ready: FrameOf<"ready">;
  /** Caught up: every message committed before this point has been delivered. */
  synced: { type: "synced" };
  /** The connection dropped; `retryInMs` is null when the socket gives up (closed, or token refused). */
  disconnected: { type: "disconnected"; code: number; reason: string; retryInMs: number | null };
  /** An error frame that answers no send of this client. */
  error: ErrorFrame;
}

export type SocketState = "connecting" | "syncing" | "live" | "closed";

/** A send the server refused (its error frame), or a socket closed with the send unacknowledged. */
export class ChatSendError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

interface PendingSend {
  frame: SendMessageFrame;
  resolve(message: Message): void;
  reject(error: ChatSendError): void;
}

export type SendInput = Omit<SendMessageFrame, "type" | "client_msg_id"> & { client_msg_id?: string };

export class ChatSocket {
  private ws: WebSocket | null = null;
  private readonly cursors: Cursors;
  private readonly handlers = new Map<keyof SocketEvents, Set<(event: never) => void>>();
  private readonly pending = new Map<string, PendingSend>();
  /** Without `since`: positions still to be taken from the present before the first connection. */
  private startFromNow: boolean;
  /** Without `since`, history is the REST API's: a conversation joined later is followed from its present too. */
  private readonly fromPresent: boolean;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  /** Frames that arrived while discovery ran; handled after it, in order. */
  private held: ServerFrame[] | null = null;
  private syncing = false;
  private syncAgain = false;
  state: SocketState = "connecting";

  constructor(
    private readonly internals: SocketInternals,
    private readonly options: SocketOptions = {},
  ) {
    this.cursors = new Cursors(options.since, options.revs);
    this.startFromNow = options.since === undefined;
    this.fromPresent = options.since === undefined;
    void this.connect();
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof SocketEvents>(type: K, handler: (event: SocketEvents[K]) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as (event: never) => void);
    return () => set.delete(handler as (event: never) => void);
  }

  /**
   * Sends a message and resolves with it once the server has stored it (message_ack). Until then it
   * is resent after every reconnect with the same client_msg_id, so it is stored exactly once.
   */
  send(input: SendInput): Promise<Message> {
    const frame: SendMessageFrame = { ...input, type: "message", client_msg_id: input.client_msg_id ?? crypto.randomUUID() };
    const known = this.pending.get(frame.client_msg_id);
    if (known) return new Promise((resolve, reject) => this.pending.set(frame.client_msg_id, chain(known, resolve, reject)));
    if (this.state === "closed") return Promise.reject(new ChatSendError("socket_closed", "The socket is closed"));
    return new Promise((resolve, reject) => {
      this.pending.set(frame.client_msg_id, { frame, resolve, reject });
      if (this.state === "syncing" || this.state === "live") this.write(frame);
    });
  }

  /** Marks a message (and all before it) read. False when not connected: nothing was sent. */
  markRead(messageId: string): boolean {
    return this.writeWhenReady({ type: "mark_read", message_id: messageId });
  }

  /** Tells the conversation's members that the user is typing. False when not connected. */
  typing(conversationId: string): boolean {
    return this.writeWhenReady({ type: "typing", conversation_id: conversationId });
  }

  /** v2 delivery receipt: messages up to `seq` reached this device. False when not connected. */
  received(conversationId: string, seq: number): boolean {
    return this.writeWhenReady({ type: "received", conversation_id: conversationId, seq });
  }

  /**
   * Skips the wait of a pending reconnect and starts the backoff over, e.g. when a browser reports
   * `online` again. Does nothing while connected or closed.
   */
  reconnectNow() {
    if (this.state !== "connecting" || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    void this.connect();
  }

  /** Where the socket stands per conversation: save it and pass it as `since` next time. */
  positions(): Record<string, number> {
    return this.cursors.since();
  }

  /** v2: the revs the socket has applied per conversation (pass as `revs` next time). */
  revisions(): Record<string, number> {
    return this.cursors.revisions();
  }

  /** Closes for good: no reconnect; unacknowledged sends are rejected. */
  close() {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    this.ws?.close(1000, "client closed");
    for (const p of this.pending.values()) p.reject(new ChatSendError("socket_closed", "The socket closed before the server acknowledged"));
    this.pending.clear();
  }

  private emit<K extends keyof SocketEvents>(type: K, event: SocketEvents[K]) {
    for (const handler of this.handlers.get(type) ?? []) {
      try {
        (handler as (event: SocketEvents[K]) => void)(event);
      } catch (error) {
        // One app handler's bug must not break delivery to the others or the catch-up loop.
        console.error("chat client: an event handler threw", error);
      }
    }
  }

  private write(frame: ClientFrame): boolean {
    if (this.ws?.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** App frames wait for `ready`: before it the server expects the token frame first. */
  private writeWhenReady(frame: ClientFrame): boolean {
    return (this.state === "syncing" || this.state === "live") && this.write(frame);
  }

  private async connect() {
    if (this.state === "closed") return;
    this.state = "connecting";
    this.syncing = false;
    this.syncAgain = false;
    this.held = null;
    if (this.startFromNow) {
      // "The present" is taken before connecting, so whatever is committed from here on (before
      // ready too, this socket's own sends too) comes through the catch-up or live.
      try {
        for (const c of await this.internals.discover()) this.cursors.follow(c.id, c.seq, c.rev);
        this.startFromNow = false;
      } catch (error) {
        // A 401 is the REST side of a 4401: the token is refused, retrying cannot help.
        if ((error as { status?: number }).status === 401) return this.giveUp(4401, "token refused");
        return this.retryLater(0, "could not list conversations");
      }
      // close() may have run while the listing was awaited (TypeScript cannot know).
      if ((this.state as SocketState) === "closed") return;
    }
    const Socket = this.options.WebSocket ?? WebSocket;
    const ws = new Socket(this.internals.url);
    this.ws = ws;
    ws.onopen = async () => {
      const token = await this.internals.token().catch(() => null);
      if (this.ws === ws) ws.send(JSON.stringify({ token: token ?? "" }));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (this.held && frame.type !== "ready") this.held.push(frame);
      else this.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.state === "closed") return;
      // 4401: the token was refused (revoked, expired, wrong). Retrying with it cannot help.
      if (event.code === 4401) return this.giveUp(event.code, event.reason);
      this.retryLater(event.code, event.reason);
    };
  }

  private giveUp(code: number, reason: string) {
    this.emit("disconnected", { type: "disconnected", code, reason, retryInMs: null });
    this.close();
  }

  private retryLater(code: number, reason: string) {
    const delay = this.nextDelay();
    this.state = "connecting";
    this.emit("disconnected", { type: "disconnected", code, reason, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  /** Exponential backoff with "equal jitter": half the step fixed, half random, so clients spread out. */
  private nextDelay() {
    const min = this.options.minDelayMs ?? 250;
    const max = this.options.maxDelayMs ?? 30_000;
    const step = Math.min(max, min * 2 ** this.attempt++);
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }

  private startHeartbeat() {
    const every = this.options.heartbeatMs ?? 25_000;
    if (!every) return;
    this.heartbeat = setInterval(() => {
      const quiet = Date.now() - this.lastFrameAt;
      if (quiet >= 2 * every) this.abandon(4000, "no answer to ping");
      else if (quiet >= every) this.write({ type: "ping" });
    }, every / 2);
  }

  /**
   * Forgets a silent connection at once and schedules the reconnect: on a dead network the close
   * handshake can take minutes to report, and nothing from that socket is wanted any more.
   */
  private abandon(code: number, reason: string) {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    ws?.close(code, reason);
    if (this.state !== "closed") this.retryLater(code, reason);
  }

  private stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private async onReady() {
    const ws = this.ws;
    this.attempt = 0;
    this.state = "syncing";
    this.startHeartbeat();
    // Unacknowledged sends first: the server answers a repeat with the stored message.
    for (const p of this.pending.values()) this.write(p.frame);
    this.held = [];
    try {
      // A conversation the socket never saw (created while it was away) is followed from its first
      // message; the sync reads those in their current state, so its rev is taken as listed.
      for (const c of await this.internals.discover()) this.cursors.follow(c.id, 0, c.rev);
    } catch {
      // Discovery is an optimisation for conversations never seen; the sync below still catches up
      // the known ones, and a message in an unknown one is followed from its start when it comes.
    }
    if (this.ws !== ws) return;
    const held = this.held;
    this.held = null;
    this.requestSync();
    for (const frame of held) this.handle(frame);
  }

  private requestSync() {
    if (this.state !== "syncing" && this.state !== "live") return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    this.syncAgain = false;
    this.write(this.cursors.syncFrame());
  }

  private handle(frame: ServerFrame) {
    switch (frame.type) {
      case "ready":
        this.emit("ready", frame);
        void this.onReady();
        return;
      case "new_message":
        return this.onMessage(frame.message, frame.rev, frame);
      case "message_ack": {
        const p = frame.client_msg_id === null ? undefined : this.pending.get(frame.client_msg_id);
        this.pending.delete(frame.client_msg_id ?? "");
        p?.resolve(frame.message);
        return;
      }
      case "sync_done":
        this.syncing = false;
        if (frame.has_more || this.syncAgain) return this.requestSync();
        this.state = "live";
        this.emit("synced", { type: "synced" });
        return;
      case "error": {
        const p = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
        if (!p) return this.emit("error", frame);
        this.pending.delete(frame.ref!);
        p.reject(new ChatSendError(frame.code, frame.detail));
        return;
      }
      case "changes":
        return this.onChanges(frame);
      case "message_updated": {
        const conversationId = frame.message.conversation_id;
        const applied = this.cursors.revision(conversationId);
        const placed = this.cursors.placeRev(conversationId, frame.rev);
        if (placed === "gap") return this.requestSync();
        // One change can send several frames with the same rev (a reply, then its parent's new
        // reply_count): a second frame of the rev just applied is news too; the message's rev decides.
        const current = placed === "apply" || (frame.rev !== undefined && frame.rev === applied);
        if (current && this.cursors.freshMessageState(frame.message.id, frame.message.rev)) this.emit("message_updated", frame);
        return;
      }
      case "conversation_updated": {
        const placed = this.cursors.placeRev(frame.conversation.id, frame.rev);
        // Added to a conversation while connected: its messages from now on (or, with `since`, all).
        this.cursors.follow(frame.conversation.id, this.fromPresent ? (frame.conversation.last_message?.seq ?? 0) : 0);
        if (placed === "gap") return this.requestSync();
        if (placed === "apply") this.emit("conversation_updated", frame);
        return;
      }
      case "conversation_removed":
        this.cursors.forget(frame.conversation_id);
        return this.emit("conversation_removed", frame);
      case "message_read":
      case "user_typing":
      case "presence":
      case "message_delivered":
        return this.emit(frame.type, frame as never);
      case "pong":
        return;
    }
  }

  private onMessage(message: Message, rev: number | undefined, frame?: FrameOf<"new_message">) {
    const conversationId = message.conversation_id;
    const placed = this.cursors.placeMessage(conversationId, message.seq);
    // A gap: live delivery missed something (or the socket is new to the conversation). The sync
    // sends everything after the position, this message included, in order.
    if (placed === "gap") return this.requestSync();
    if (placed === "duplicate") return;
    if (this.cursors.placeRev(conversationId, rev) === "gap") this.requestSync();
    this.cursors.freshMessageState(message.id, message.rev);
    this.emit("new_message", frame ?? { type: "new_message", message, rev, timestamp: message.created_at });
  }

  /** v2: a page of changes after a rev; new messages go through the seq order, the rest are updates. */
  private onChanges(frame: FrameOf<"changes">) {
    const conversationId = frame.conversation_id;
    for (const message of frame.messages) {
      if (message.seq > this.cursors.position(conversationId)) {
        this.onMessage(message, undefined);
      } else if (this.cursors.freshMessageState(message.id, message.rev)) {
        this.emit("message_updated", { type: "message_updated", message, rev: message.rev });
      }
    }
    if (frame.conversation) this.emit("conversation_updated", { type: "conversation_updated", conversation: frame.conversation, rev: frame.rev });
    this.cursors.caughtUpTo(conversationId, frame.rev);
    if (frame.has_more) this.syncAgain = true;
  }
}

/** A second send() with a client_msg_id still pending settles with the first. */
function chain(first: PendingSend, resolve: (m: Message) => void, reject: (e: ChatSendError) => void): PendingSend {
  return {
    frame: first.frame,
    resolve: (m) => (first.resolve(m), resolve(m)),
    reject: (e) => (first.reject(e), reject(e)),
  };
}
