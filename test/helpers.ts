// Test helpers: a real server on port 0 with a temporary data directory, a small typed HTTP client,
// and a socket client that queues frames so tests can wait for the one they expect.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../src/config";
import { silentLogger } from "../src/lib/logger";
import { startServer, type RunningServer } from "../src/server";

export interface TestServer extends RunningServer {
  dataDir: string;
  close(): Promise<void>;
}

/** Starts the real server (HTTP + sockets) on a free port with a fresh database. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-test-"));
  const config: Config = {
    ...loadConfig([], {}),
    port: 0,
    host: "127.0.0.1",
    dataDir,
    logLevel: "silent",
    ...overrides,
  };
  const running = await startServer(config, silentLogger);
  return {
    ...running,
    dataDir,
    async close() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function client(baseUrl: string) {
  async function request<T = any>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; form?: Record<string, string>; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(options.form).toString();
    } else if (options.raw !== undefined) {
      headers["content-type"] ??= "application/json";
      body = options.raw;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  let counter = 0;
  /** Signs up a fresh user and logs in; returns the user view and its token. */
  async function newUser(prefix = "user") {
    const username = `${prefix}_${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const password = "correct horse battery";
    const signup = await request("POST", "/api/v1/auth/signup", {
      body: { username, email: `${username}@example.com`, password, full_name: `Full ${username}` },
    });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
    const login = await request("POST", "/api/v1/auth/login", { body: { username, password } });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    return { user: signup.body as { id: string; username: string; email: string }, token: login.body.access_token as string, password };
  }

  return {
    request,
    newUser,
    get: <T = any>(path: string, token?: string) => request<T>("GET", path, { token }),
    post: <T = any>(path: string, body: unknown, token?: string) => request<T>("POST", path, { token, body }),
    put: <T = any>(path: string, body: unknown, token?: string) => request<T>("PUT", path, { token, body }),
    dm: (token: string, otherId: string) => request("POST", "/api/v1/conversations", { token, body: { participant_ids: [otherId] } }),
    group: (token: string, name: string, ids: string[]) =>
      request("POST", "/api/v1/conversations", { token, body: { participant_ids: ids, name, is_group: true } }),
    send: (token: string, conversationId: string, content: string, clientMsgId?: string) =>
      request("POST", `/api/v1/conversations/${conversationId}/messages`, {
        token,
        body: clientMsgId === undefined ? { content } : { content, client_msg_id: clientMsgId },
      }),
  };
}

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
