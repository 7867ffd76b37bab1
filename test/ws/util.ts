// Shared pieces of the socket suite: a server per file, users with sockets, and the ping barrier that
// proves "nothing else arrived" without sleeping (frames on one socket arrive in the order they were sent).
import { expect } from "bun:test";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { client, connect, type Frame, type TestServer, type TestSocket } from "../helpers";

export type Api = ReturnType<typeof client>;
export type TestUser = Awaited<ReturnType<Api["newUser"]>>;

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

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

/** Every message of a conversation through REST, ascending, paging with `after`. */
export async function restHistory(api: Api, token: string, conversationId: string) {
  const all: any[] = [];
  for (;;) {
    const page = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=100&after=${all.at(-1)?.seq ?? 0}`, token);
    expect(page.status).toBe(200);
    all.push(...page.body);
    if (page.body.length < 100) return all;
  }
}

/**
 * A bare WebSocket client over TCP whose reading can really stop (pause the socket: the kernel buffers
 * fill and the server sees backpressure). Records frames and whether a close frame or a TCP end came.
 */
export class PausableSocket {
  private buffer = Buffer.alloc(0);
  private readonly sock: net.Socket;
  handshake: string | null = null;
  closeCode: number | null = null;
  ended = false;
  texts: string[] = [];

  constructor(port: number, headers: Record<string, string> = {}) {
    this.sock = net.connect(port, "127.0.0.1");
    this.sock.on("data", (chunk: Buffer) => this.onData(chunk));
    this.sock.on("close", () => (this.ended = true));
    this.sock.on("error", () => (this.ended = true));
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    this.sock.write(
      `GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n${extra}\r\n`,
    );
  }

  private onData(chunk: Buffer) {
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
      if (opcode === 8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      // Keep only small frames' text: the interesting ones (ready, pong); big payloads would pile up.
      if (opcode === 1 && payload.length < 512) this.texts.push(payload.toString());
    }
  }

  async until(condition: () => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await Bun.sleep(10);
    }
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
