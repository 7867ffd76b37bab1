// A chat client as the README's "Realtime protocol and reconnecting" describes one: it holds messages
// by seq per conversation, catches up with `sync` after every `ready`, and resends what was never
// acknowledged (same client_msg_id) after reconnecting, to whichever instance it is pointed at.
import { TestSocket, wsUrl, type Frame } from "../support/socket";

export class ConvergingClient {
  /** conversation id -> seq -> message */
  readonly held = new Map<string, Map<number, any>>();
  /** client_msg_id -> message, for every send the server acknowledged. */
  readonly acked = new Map<string, any>();
  /** client_msg_id -> frame, sent and not acknowledged yet (resent after a reconnect). */
  readonly unacked = new Map<string, Record<string, unknown>>();
  socket: TestSocket | null = null;
  /** Authenticated and caught up: sends go out at once (else they wait for the next connect). */
  private live = false;
  private closing = false;
  /** Where to reconnect after the server closed the socket; null: stay closed. */
  reconnectTo: (() => string) | null = null;
  reconnects = 0;
  /** Close codes of the sockets that ended under this client. */
  readonly closes: number[] = [];

  constructor(
    readonly token: string,
    readonly conversations: string[],
  ) {
    for (const id of conversations) this.held.set(id, new Map());
  }

  /** The highest seq held with no gap below it. */
  upTo(conversationId: string): number {
    const msgs = this.held.get(conversationId)!;
    let seq = 0;
    while (msgs.has(seq + 1)) seq++;
    return seq;
  }

  seqs(conversationId: string): number[] {
    return [...this.held.get(conversationId)!.keys()].sort((a, b) => a - b);
  }

  private hold(message: any) {
    this.held.get(message.conversation_id)?.set(message.seq, message);
  }

  private onFrame = (f: Frame) => {
    if (f.type === "new_message") this.hold(f.message);
    else if (f.type === "message_ack") {
      this.hold(f.message);
      const id = f.message.client_msg_id as string;
      this.acked.set(id, f.message);
      this.unacked.delete(id);
    }
  };

  /** Opens a socket on `baseUrl`, waits for ready, syncs until nothing is left, resends the unacknowledged. */
  async connect(baseUrl: string) {
    const socket = new TestSocket(new WebSocket(wsUrl(baseUrl)));
    this.socket = socket;
    const seen = { count: 0 };
    socket.ws.addEventListener("message", () => {
      for (; seen.count < socket.frames.length; seen.count++) this.onFrame(socket.frames[seen.count]!);
    });
    socket.ws.addEventListener("close", (e) => {
      // A socket that never got live fails its connect(), whose caller retries: reconnect only from live ones.
      const wasLive = this.live && this.socket === socket;
      if (this.socket === socket) this.live = false;
      this.closes.push(e.code);
      if (wasLive && !this.closing && this.reconnectTo) void this.reconnect();
    });
    await socket.opened;
    socket.send({ token: this.token });
    await socket.waitType("ready", 10_000);
    await this.sync();
    for (const frame of this.unacked.values()) socket.send(frame);
    this.live = true;
  }

  /** Connects again (retrying while the target refuses) to where `reconnectTo` points. */
  private async reconnect() {
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.connect(this.reconnectTo!());
        this.reconnects++;
        return;
      } catch (error) {
        if (attempt > 100) throw error;
        await Bun.sleep(100);
      }
    }
  }

  /** `sync` rounds from what is held with no gap, until sync_done says nothing more. */
  async sync() {
    const socket = this.socket!;
    for (;;) {
      const from = socket.frames.length;
      socket.send({ type: "sync", since: Object.fromEntries(this.conversations.map((id) => [id, this.upTo(id)])) });
      const done = await socket.waitFor((f) => f.type === "sync_done", 10_000, from);
      if (!done.has_more) return;
    }
  }

  /** Sends a message frame (kept until acknowledged); returns its client_msg_id. */
  send(conversationId: string, content: string, clientMsgId: string): string {
    const frame = { type: "message", conversation_id: conversationId, content, client_msg_id: clientMsgId };
    this.unacked.set(clientMsgId, frame);
    if (this.live) this.socket!.send(frame);
    return clientMsgId;
  }

  get open(): boolean {
    return this.live;
  }

  close() {
    this.closing = true;
    if (this.socket && !this.socket.closed) this.socket.close();
  }
}

/** Polls `condition` every 20 ms until it holds, or throws with `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(20);
  }
}
