// /health never takes the write lock: another process holding it must not make /health wait on
// the event loop (it used to wait busy_timeout, then answer 503) while sends simply queue.
// (A read-only remount could not be injected here: tmpfs refuses it while files are open.)
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DB_FILE } from "../../src/db/data-dir";
import { client } from "../support/api";
import { startTestServer } from "../support/server";

describe("/health and the write lock", () => {
  test("answers 200 while another process holds the write lock, and sends then go through", async () => {
    const server = await startTestServer();
    const other = new Database(join(server.dataDir, DB_FILE));
    try {
      const api = client(server.url);
      const [a, b] = [await api.newUser("lock"), await api.newUser("lock")];
      const group = (await api.post("/api/v1/conversations", { participant_ids: [b.user.id], name: "lock", is_group: true }, a.token)).body.id;
      other.run("BEGIN IMMEDIATE");
      const health = await api.get("/health");
      expect(health.status).toBe(200);
      const send = api.post(`/api/v1/conversations/${group}/messages`, { content: "waits for the lock" }, a.token);
      expect((await api.get("/health")).status).toBe(200);
      other.run("COMMIT");
      expect((await send).status).toBe(201);
    } finally {
      other.close();
      await server.close();
    }
  });
});
