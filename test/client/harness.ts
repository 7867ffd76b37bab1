// A real server that can be stopped and started again on the same port and data directory (a
// restart mid-conversation), and frame recording for the SDK's events.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createChatClient, type ChatSocket, type Message } from "../../client";
import { loadConfig, type Config } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { startServer, type RunningServer } from "../../src/server";
import { freePort } from "../support/binary";

export interface RestartableServer {
  url: string;
  dataDir: string;
  running: RunningServer | null;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function restartableServer(overrides: Partial<Config> = {}): Promise<RestartableServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-client-"));
  const config: Config = { ...loadConfig([], {}), host: "127.0.0.1", port: freePort(), dataDir, logLevel: "silent", rateLimit: false, ...overrides };
  const handle: RestartableServer = {
    url: `http://127.0.0.1:${config.port}`,
    dataDir,
    running: null,
    async start() {
      handle.running = await startServer(config, silentLogger);
    },
    async stop() {
      await handle.running?.stop();
      handle.running = null;
    },
    async close() {
      await handle.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}

/** Every new_message event a socket emitted, per conversation, and waiting for a count. */
export function recordMessages(socket: ChatSocket) {
  const seen: Message[] = [];
  let synced = 0;
  socket.on("new_message", ({ message }) => void seen.push(message));
  socket.on("synced", () => void synced++);
  return {
    seen,
    syncedCount: () => synced,
    of: (conversationId: string) => seen.filter((m) => m.conversation_id === conversationId),
    async until(condition: () => boolean, what: string, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; seen ${seen.length} messages`);
        await Bun.sleep(20);
      }
    },
  };
}

/** A client logged in as a fresh user with a unique name. */
export async function signedUp(baseUrl: string, prefix: string) {
  const chat = createChatClient({ baseUrl });
  const username = `${prefix}_${Bun.randomUUIDv7().replaceAll("-", "").slice(-10)}`;
  const password = "correct horse battery";
  const created = await chat.api.api.v1.auth.signup.post({ username, email: `${username}@example.com`, password });
  if (created.error) throw new Error(`signup failed: ${JSON.stringify(created.error.value)}`);
  await chat.login(username, password);
  return { chat, user: created.data, password };
}
