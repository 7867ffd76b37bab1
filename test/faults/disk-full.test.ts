// A full disk, for real: the server's data directory on a small tmpfs filled with a ballast file.
// Sends must get 503 storage_full with Retry-After (REST) and an error frame with that code
// (socket), /health must say so and /metrics count it, and after space is freed everything heals
// by itself and retrying with the same client_msg_id stores each message exactly once.
import { afterAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import { silentLogger } from "../../src/lib/logger";
import { startServer } from "../../src/server";
import { client } from "../support/api";
import { connect, type TestSocket } from "../support/socket";
import { mountSmallDisk, type SmallDisk } from "./disk";

const disks: SmallDisk[] = [];
afterAll(() => disks.forEach((d) => d.unmount()));

const probe = mountSmallDisk("3m");
const skipReason = typeof probe === "string" ? probe : null;
if (skipReason) console.log(`SKIP disk-full fault tests: ${skipReason}`);
else (probe as SmallDisk).unmount();

const BIG = "x".repeat(3500);

async function socketSendUntilError(socket: TestSocket, conversationId: string, prefix: string) {
  for (let i = 0; i < 100; i++) {
    const from = socket.frames.length;
    const id = `${prefix}-${i}`;
    socket.send({ type: "message", conversation_id: conversationId, content: `${BIG} ${id}`, client_msg_id: id });
    const reply = await socket.waitFor((f) => (f.type === "error" && f.ref === id) || (f.type === "message_ack" && f.client_msg_id === id), 10_000, from);
    if (reply.type === "error") return { reply, id };
  }
  throw new Error("the socket never got an error on a full disk");
}

describe.skipIf(skipReason !== null).each([
  ["on the writer thread", true],
  ["inline", false],
])("a full disk (%s)", (_name, writerThread) => {
  test("503 storage_full to REST and sockets, /health and /metrics tell, freeing space heals, retries store once", async () => {
    const disk = mountSmallDisk("3m") as SmallDisk;
    disks.push(disk);
    const config = { ...loadConfig([], {}), port: 0, host: "127.0.0.1", dataDir: disk.dir, logLevel: "silent" as const, writerThread };
    const server = await startServer(config, silentLogger);
    try {
      const api = client(server.url);
      const [a, b] = [await api.newUser("full"), await api.newUser("full")];
      const group = (await api.post("/api/v1/conversations", { participant_ids: [b.user.id], name: "full", is_group: true }, a.token)).body.id;
      const socket = await connect(server.url, a.token);
      expect((await api.get("/health")).status).toBe(200);

      disk.fill();
      const acked = new Set<string>();
      const failed: string[] = [];
      let refusal: Awaited<ReturnType<typeof api.post>> | null = null;
      for (let i = 0; i < 400 && !refusal; i++) {
        const id = `rest-${i}`;
        const res = await api.post(`/api/v1/conversations/${group}/messages`, { content: `${BIG} ${id}`, client_msg_id: id }, a.token);
        if (res.status === 201) acked.add(id);
        else {
          failed.push(id);
          refusal = res;
        }
      }
      expect(refusal).not.toBeNull();
      expect(refusal!.status).toBe(503);
      expect(refusal!.body).toEqual({ code: "storage_full", detail: expect.any(String) });
      expect(Number(refusal!.headers.get("retry-after"))).toBeGreaterThan(0);

      const health = await api.get("/health");
      expect(health.status).toBe(503);
      expect(health.body.code).toBe("storage_full");

      const { reply, id: socketId } = await socketSendUntilError(socket, group, "ws");
      expect(reply.code).toBe("storage_full");
      failed.push(socketId);

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const counted = Number(/chat_storage_write_failures_total\{reason="full"\} (\d+)/.exec(metrics)?.[1]);
      expect(counted).toBeGreaterThanOrEqual(2);

      disk.free();
      let healed = 0;
      for (let i = 0; i < 100 && healed !== 200; i++) {
        healed = (await api.get("/health")).status;
        if (healed !== 200) await Bun.sleep(100);
      }
      expect(healed).toBe(200);

      // Retried twice each: the first stores it (or finds it stored), the second must find it.
      for (const id of failed) {
        const first = await api.post(`/api/v1/conversations/${group}/messages`, { content: `${BIG} ${id}`, client_msg_id: id }, a.token);
        expect([200, 201]).toContain(first.status);
        const again = await api.post(`/api/v1/conversations/${group}/messages`, { content: `${BIG} ${id}`, client_msg_id: id }, a.token);
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.body.id);
      }
      const history: any[] = [];
      for (;;) {
        const page = await api.get(`/api/v1/conversations/${group}/messages?limit=100&after=${history.at(-1)?.seq ?? 0}`, b.token);
        history.push(...page.body);
        if (page.body.length < 100) break;
      }
      const ids = history.map((m) => m.client_msg_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of [...acked, ...failed]) expect(ids).toContain(id);
      expect(history.map((m) => m.seq)).toEqual(history.map((_, i) => i + 1));
      socket.close();
    } finally {
      await server.stop();
    }
  }, 120_000);
});
