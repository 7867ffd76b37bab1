// Socket clients: TestSocket records frames so tests can wait for the one they expect; PausableSocket
// is a bare TCP WebSocket whose reading can really stop.
import { expect } from "bun:test";
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { TestUser } from "./api";
import type { TestServer } from "./server";

export type Frame = Record<string, any> & { type: string };

/** A WebSocket that records every frame and its close, with waiting helpers. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("socket error before open")), { once: true });
    });
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(String(event.data)));
      this.wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits for the first recorded frame (from `from` on) matching the predicate. */
  async waitFor(predicate: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(predicate);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) while waiting; frames: ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for frame; got ${JSON.stringify(this.frames).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitType(type: string, timeoutMs = 5000) {
    return this.waitFor((f) => f.type === type, timeoutMs);
  }

  async waitClose(timeoutMs = 15000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  /** Resolves after a quiet period, to assert that nothing else arrives. */
  async settle(ms = 200) {
    await Bun.sleep(ms);
  }

  ofType(type: string) {
    return this.frames.filter((f) => f.type === type);
  }

  close() {
    this.ws.close();
  }
}

export function wsUrl(baseUrl: string) {
  return baseUrl.replace(/^http/, "ws") + "/api/v1/ws";
}

/** Opens a socket and authenticates with the first-frame token; resolves after `ready`. */
export async function connect(baseUrl: string, token: string): Promise<TestSocket> {
  const socket = new TestSocket(new WebSocket(wsUrl(baseUrl)));
  await socket.opened;
  socket.send({ token });
  await socket.waitType("ready");
  return socket;
}

export function rawSocket(baseUrl: string, options?: { headers?: Record<string, string> }): TestSocket {
  // Bun's WebSocket accepts headers on the upgrade request (non-browser clients).
  return new TestSocket(new WebSocket(wsUrl(baseUrl), options as any));
}

/**
 * Pings and waits for the pong. Every event the server produced for this socket before it read the ping
 * is on the wire ahead of the pong, so afterwards `frames` is complete; it also proves the socket is open.
 */
export async function barrier(...sockets: TestSocket[]) {
  await Promise.all(
    sockets.map(async (s) => {
      const from = s.frames.length;
      s.send({ type: "ping" });
      await s.waitFor((f) => f.type === "pong", 5000, from);
      expect(s.closed).toBeNull();
    }),
  );
}

/** Sends a frame and returns the error frame it earns, after checking the socket is still usable. */
export async function errorFor(s: TestSocket, frame: unknown): Promise<Frame> {
  const from = s.frames.length;
  s.send(frame);
  const error = await s.waitFor((f) => f.type === "error", 5000, from);
  await barrier(s);
  return error;
}

/** Frames that concern a conversation, whatever their type. */
export const aboutConversation = (s: TestSocket, conversationId: string) =>
  s.frames.filter((f) => f.conversation_id === conversationId || f.message?.conversation_id === conversationId);

export const newMessages = (s: TestSocket, conversationId?: string) =>
  s.frames.filter((f) => f.type === "new_message" && (!conversationId || f.message.conversation_id === conversationId));

/** Opens n sockets for a user (its devices). */
export const devices = (server: TestServer, user: TestUser, n: number) =>
  Promise.all(Array.from({ length: n }, () => connect(server.url, user.token)));

export function closeAll(...sockets: TestSocket[]) {
  for (const s of sockets) if (!s.closed) s.close();
}

/**
 * A bare WebSocket client over TCP whose reading can really stop (pause the socket: the kernel buffers
 * fill and the server sees backpressure). Records the handshake, small text frames, byte and frame
 * counts, and whether a close frame or a TCP end came.
 */
export class PausableSocket {
  private buffer = Buffer.alloc(0);
  private readonly sock: net.Socket;
  handshake: string | null = null;
  closeCode: number | null = null;
  ended = false;
  bytesRead = 0;
  framesRead = 0;
  texts: string[] = [];

  constructor(port: number, headers: Record<string, string> = {}) {
    this.sock = net.connect(port, "127.0.0.1");
    this.sock.on("data", (chunk: Buffer) => this.onData(chunk));
    this.sock.on("end", () => (this.ended = true));
    this.sock.on("close", () => (this.ended = true));
    this.sock.on("error", () => (this.ended = true));
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    this.sock.write(
      `GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n${extra}\r\n`,
    );
  }

  private onData(chunk: Buffer) {
    this.bytesRead += chunk.length;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.handshake === null) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.handshake = this.buffer.subarray(0, end).toString();
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      this.framesRead++;
      if (opcode === 8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      // Keep only small frames' text: the interesting ones (ready, pong); big payloads would pile up.
      if (opcode === 1 && payload.length < 512) this.texts.push(payload.toString());
    }
  }

  /** Sends one masked text frame (clients must mask). */
  send(text: string) {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const header =
      payload.length < 126
        ? Buffer.from([0x81, 0x80 | payload.length])
        : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    this.sock.write(Buffer.concat([header, mask, masked]));
  }

  async until(condition: () => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await Bun.sleep(10);
    }
  }

  /** Waits for the `ready` frame (after a token in the upgrade headers or a first frame). */
  waitReady(timeoutMs = 5000) {
    return this.until(() => this.texts.some((t) => t.includes('"ready"')), timeoutMs);
  }

  pause() {
    this.sock.pause();
  }
  resume() {
    this.sock.resume();
  }
  destroy() {
    this.sock.destroy();
  }
}
