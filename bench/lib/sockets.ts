// The socket side of the load generator: authenticated sockets ({token} first frame, wait for ready),
// cheap frame inspection (no JSON.parse on the hot path), and send-time stamps in client_msg_id.

export interface Conn {
  index: number;
  ws: WebSocket;
  /** Conversation this socket sends into (set by the scenario). */
  conversationId: string;
  inflight: number;
}

export type FrameHandler = (conn: Conn, raw: string, type: string) => void;

/** The frame's type without parsing it when the server put `type` first (both servers do). */
export function frameType(raw: string): string {
  if (raw.startsWith('{"type":"')) return raw.slice(9, raw.indexOf('"', 9));
  try {
    return String(JSON.parse(raw).type ?? "");
  } catch {
    return "";
  }
}

/** The first client_msg_id in the frame (the ack's own, or the message's). */
export function clientMsgIdOf(raw: string): string | null {
  const k = raw.indexOf('"client_msg_id":"');
  if (k < 0) return null;
  const start = k + 17;
  return raw.slice(start, raw.indexOf('"', start));
}

let counter = 0;
/** A unique client_msg_id carrying the send time (performance.now() of this process, in ms). */
export const stampId = (tag: string) => `${tag}_${(counter++).toString(36)}_${performance.now().toFixed(3)}`;
export const sentAt = (id: string) => Number(id.slice(id.lastIndexOf("_") + 1));

const FILLER = " the quick brown fox jumps over the lazy dog, twice over, for a chat-sized line";

export function sendMessage(conn: Conn, tag: string): string {
  const id = stampId(tag);
  conn.ws.send(JSON.stringify({ type: "message", conversation_id: conn.conversationId, content: id + FILLER, client_msg_id: id }));
  conn.inflight++;
  return id;
}

export class Pool {
  readonly conns: Conn[] = [];
  handler: FrameHandler | null = null;
  errorFrames = 0;
  readonly errorSamples: string[] = [];
  unexpectedCloses = 0;
  readonly closeCodes = new Map<number, number>();
  framesSeen = 0;
  private closing = false;

  /** Opens one socket per token (tokens may repeat: one user, several devices) with bounded concurrency; socket i on wsUrl[i % n] when several. */
  async open(wsUrl: string | string[], tokens: string[], concurrency = 200): Promise<{ ms: number; failures: string[] }> {
    const urls = typeof wsUrl === "string" ? [wsUrl] : wsUrl;
    const t0 = performance.now();
    const failures: string[] = [];
    let next = 0;
    const lanes = Array.from({ length: Math.min(concurrency, tokens.length) }, async () => {
      while (next < tokens.length) {
        const i = next++;
        for (let attempt = 0; ; attempt++) {
          try {
            this.conns[i] = await this.openOne(urls[i % urls.length]!, tokens[i]!, i);
            break;
          } catch (error) {
            if (attempt >= 3) {
              failures.push(String(error));
              break;
            }
            await Bun.sleep(200 * (attempt + 1));
          }
        }
      }
    });
    await Promise.all(lanes);
    return { ms: performance.now() - t0, failures };
  }

  private openOne(wsUrl: string, token: string, index: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      const conn: Conn = { index, ws, conversationId: "", inflight: 0 };
      let ready = false;
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error("no ready within 30 s"));
      }, 30_000);
      ws.onopen = () => ws.send(JSON.stringify({ token }));
      ws.onmessage = (event) => {
        const raw = event.data as string;
        if (frameType(raw) !== "ready") return;
        ready = true;
        clearTimeout(timer);
        ws.onmessage = (e) => this.dispatch(conn, e.data as string);
        resolve(conn);
      };
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (!ready) return reject(new Error(`closed ${event.code} ${event.reason} before ready`));
        if (!this.closing) {
          this.unexpectedCloses++;
          this.closeCodes.set(event.code, (this.closeCodes.get(event.code) ?? 0) + 1);
        }
      };
    });
  }

  private dispatch(conn: Conn, raw: string) {
    this.framesSeen++;
    const type = frameType(raw);
    if (type === "error") {
      this.errorFrames++;
      if (this.errorSamples.length < 5) this.errorSamples.push(raw.slice(0, 300));
    }
    this.handler?.(conn, raw, type);
  }

  /** Waits until no frame has arrived for `quietMs` (presence storms after connecting), at most maxMs. */
  async settle(quietMs = 500, maxMs = 30_000) {
    const t0 = performance.now();
    let last = this.framesSeen;
    let quietSince = performance.now();
    while (performance.now() - t0 < maxMs) {
      await Bun.sleep(50);
      if (this.framesSeen !== last) {
        last = this.framesSeen;
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= quietMs) return;
    }
  }

  async close() {
    this.closing = true;
    this.handler = null;
    for (const c of this.conns) c?.ws.close(1000);
    const deadline = performance.now() + 10_000;
    while (this.conns.some((c) => c && c.ws.readyState !== WebSocket.CLOSED) && performance.now() < deadline) await Bun.sleep(50);
  }

  get openCount() {
    return this.conns.filter((c) => c && c.ws.readyState === WebSocket.OPEN).length;
  }
}
