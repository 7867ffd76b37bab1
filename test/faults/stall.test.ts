// A stalled disk, for real, with the default configuration (the writer thread): the data directory
// on a loop-mounted ext4 frozen with fsfreeze while a send is being committed. The commit waits on
// the writer thread; the event loop does not: /health answers 503 storage_stalled during the
// freeze, /metrics and cached reads answer, and the writes still made on the event loop (a read
// cursor over REST and over a socket, last_seen of a closing socket) wait for the disk instead of
// blocking the loop. After the thaw the send is acknowledged and stored once, the held writes land,
// and /health is 200 again.
import { afterAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { startServer } from "../../src/server";
import { client } from "../support/api";
import { connect } from "../support/socket";
import { mountFreezableDisk, type FreezableDisk } from "./disk";

const disk = mountFreezableDisk();
const skipReason = typeof disk === "string" ? disk : null;
if (skipReason) console.log(`SKIP stall fault test: ${skipReason}`);
afterAll(() => (disk as FreezableDisk | string) && typeof disk !== "string" && disk.unmount());

describe.skipIf(skipReason !== null)("a frozen disk", () => {
  test("health says storage_stalled while a commit waits, reads and metrics answer, the send lands once after the thaw", async () => {
    const d = disk as FreezableDisk;
    const config = { ...loadConfig([], {}), port: 0, host: "127.0.0.1", dataDir: d.dir, logLevel: "silent" as const };
    expect(config.writerThread).toBe(true);
    const server = await startServer(config, silentLogger);
    try {
      const api = client(server.url);
      const [a, b, c] = [await api.newUser("stall"), await api.newUser("stall"), await api.newUser("stall")];
      const group = (await api.post("/api/v1/conversations", { participant_ids: [b.user.id], name: "stall", is_group: true }, a.token)).body.id;
      const path = `/api/v1/conversations/${group}/messages`;
      const first = await api.post(path, { content: "before", client_msg_id: "before" }, a.token);
      expect(first.status).toBe(201);
      const before = first.body.id as string;
      const second = await api.post(path, { content: "before2", client_msg_id: "before2" }, a.token);
      expect(second.status).toBe(201);
      expect((await api.get(`${path}?limit=10`, b.token)).status).toBe(200);
      const aSocket = await connect(server.url, a.token);
      const socket = await connect(server.url, b.token);
      // c's only socket: its close writes last_seen_at.
      const closing = await connect(server.url, c.token);
      let restRead: Promise<{ status: number }>;

      d.freeze(30_000);
      let send: Promise<{ status: number; body: any }>;
      const seen = new Set<string>();
      try {
        send = api.post(path, { content: "during", client_msg_id: "during" }, a.token);
        // Until /health reports the stall (a commit waits > 2 s); every answer comes while frozen.
        for (let i = 0; i < 200 && !seen.has("storage_stalled"); i++) {
          const health = await api.get("/health");
          seen.add(health.status === 200 ? "ok" : health.body.code);
          if (!seen.has("storage_stalled")) await Bun.sleep(50);
        }
        expect(seen.has("storage_stalled")).toBe(true);
        const metrics = await fetch(`${server.url}/metrics`);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain("chat_storage_healthy 0");
        const page = await api.get(`${path}?limit=10`, b.token);
        expect(page.status).toBe(200);
        expect(page.body.map((m: any) => m.client_msg_id)).toEqual(["before", "before2"]);
        // Writes made on the event loop: each waits for the disk, and the loop keeps answering.
        restRead = api.put(`/api/v1/messages/${before}/read`, {}, b.token);
        socket.send({ type: "mark_read", message_id: second.body.id });
        closing.close();
        for (let i = 0; i < 3; i++) {
          expect((await api.get("/health")).body.code).toBe("storage_stalled");
          await Bun.sleep(100);
        }
        const pong = socket.waitType("pong");
        socket.send({ type: "ping" });
        await pong;
      } finally {
        d.thaw();
      }
      const sent = await send!;
      expect(sent.status).toBe(201);
      expect((await restRead!).status).toBe(200);
      // The socket's mark_read landed too: its message_read frame reaches a's device.
      await aSocket.waitFor((f) => f.type === "message_read" && f.user_id === b.user.id && f.last_read_seq === 2);
      expect((await api.get("/health")).status).toBe(200);
      expect((await api.post(path, { content: "during", client_msg_id: "during" }, a.token)).status).toBe(200);
      const after = await api.get(`${path}?limit=10`, b.token);
      expect(after.body.map((m: any) => m.client_msg_id)).toEqual(["before", "before2", "during"]);
    } finally {
      d.thaw();
      await server.stop();
    }
  }, 60_000);
});
