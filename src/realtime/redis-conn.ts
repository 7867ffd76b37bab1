// One connection to the broker over Bun's built-in RedisClient, replaced whole after any failure.
// Bun's own reconnect is off: it gives up after `maxRetries` and then every command fails for
// good, and its offline queue would send commands minutes late. Here a command on a dead
// connection fails at once (the caller counts it), and the next command dials a fresh client, so
// a Redis restart of any length heals on the first command after it.
import { RedisClient } from "bun";

const CONNECT_TIMEOUT_MS = 2_000;

export class RedisConn {
  private client: RedisClient | null = null;
  private connecting: Promise<RedisClient> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    /** Called once per failed command or dial, with the error (for logs and broker_errors). */
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  private dial(): Promise<RedisClient> {
    if (this.client?.connected) return Promise.resolve(this.client);
    return (this.connecting ??= (async () => {
      try {
        this.client?.close();
      } catch {}
      this.client = null;
      const client = new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: CONNECT_TIMEOUT_MS });
      try {
        await client.connect();
      } catch (error) {
        try {
          client.close();
        } catch {}
        throw error;
      }
      if (this.closed) {
        client.close();
        throw new Error("connection closed");
      }
      return (this.client = client);
    })().finally(() => (this.connecting = null)));
  }

  /** Sends one command; a failure drops the connection so the next command dials again. */
  async send(command: string, args: string[]): Promise<unknown> {
    if (this.closed) throw new Error("connection closed");
    try {
      const client = await this.dial();
      return await client.send(command, args);
    } catch (error) {
      // An error reply (wrong type, script error) leaves a healthy connection: keep it.
      if (!this.client?.connected) this.drop();
      this.onError(error);
      throw error;
    }
  }

  get connected() {
    return this.client?.connected ?? false;
  }

  private drop() {
    try {
      this.client?.close();
    } catch {}
    this.client = null;
  }

  close() {
    this.closed = true;
    this.drop();
  }
}
