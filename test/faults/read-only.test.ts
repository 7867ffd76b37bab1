// A file system that goes read-only under the server, for real: the data directory on a loop-mounted
// ext4 (errors=remount-ro) whose error is raised through /sys/fs/ext4/<dev>/trigger_fs_error, as a
// failing disk would. Sends get 503 storage_unavailable with Retry-After (REST and socket), /health
// says so, /metrics counts, one log line per change; reads keep working. Such a mount cannot be made
// writable again while files are open on it, so after the operator mounts the repaired volume at the
// same path the server exits 75 with a clear line, and a restarted server has every acknowledged
// message.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DB_FILE } from "../../src/db/data-dir";
import { client } from "../support/api";
import { startBinary } from "../support/binary";
import { install, type Install } from "../support/faults";
import { connect } from "../support/socket";
import { mountBreakableDisk, type BreakableDisk } from "./disk";

const disk = mountBreakableDisk();
const skipReason = typeof disk === "string" ? disk : null;
if (skipReason) console.log(`SKIP read-only fault test: ${skipReason}`);
let inst: Install;
beforeAll(async () => {
  if (!skipReason) inst = await install("chat-faults-ro-");
});
afterAll(() => {
  if (typeof disk !== "string") disk.unmount();
  inst?.cleanup();
});

describe.skipIf(skipReason !== null)("a file system remounted read-only by an ext4 error", () => {
  test("503 storage_unavailable on REST and sockets, health and metrics tell, reads work; after a repaired remount the server exits 75 and a restart has every acked message", async () => {
    const d = disk as BreakableDisk;
    const dataDir = join(d.dir, "data");
    const args = ["--data-dir", dataDir, "--host", "127.0.0.1", "--log-level", "warn", "--rate-limit", "false"];
    const first = await startBinary(inst.bin, { cwd: inst.dir, args });
    let exited = false;
    try {
      const api = client(first.url);
      const [a, b] = [await api.newUser("ro"), await api.newUser("ro")];
      const group = (await api.post("/api/v1/conversations", { participant_ids: [b.user.id], name: "ro", is_group: true }, a.token)).body.id;
      const path = `/api/v1/conversations/${group}/messages`;
      const acked: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await api.post(path, { content: `before ${i}`, client_msg_id: `before-${i}` }, a.token);
        expect(res.status).toBe(201);
        acked.push(`before-${i}`);
      }
      const socket = await connect(first.url, a.token);

      d.breakToReadOnly();
      for (let i = 0; i < 3; i++) {
        const res = await api.post(path, { content: `during ${i}`, client_msg_id: `during-${i}` }, a.token);
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ code: "storage_unavailable", detail: expect.any(String) });
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      socket.send({ type: "message", conversation_id: group, content: "during socket", client_msg_id: "during-ws" });
      const frame = await socket.waitFor((f) => f.type === "error" || f.type === "message_ack", 10_000);
      expect(frame).toMatchObject({ type: "error", code: "storage_unavailable", ref: "during-ws" });
      const health = await api.get("/health");
      expect(health.status).toBe(503);
      expect(health.body.code).toBe("storage_unavailable");
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      const counted = [...metrics.matchAll(/chat_storage_write_failures_total\{reason="(io_error|read_only)"\} (\d+)/g)].reduce((s, m) => s + Number(m[2]), 0);
      expect(counted).toBeGreaterThanOrEqual(4);
      expect(metrics).toContain("chat_storage_healthy 0");
      // Reads still answer from the read-only file system.
      const page = await api.get(`${path}?limit=50`, b.token);
      expect(page.status).toBe(200);
      expect(page.body.map((m: any) => m.client_msg_id)).toEqual(acked);
      // One line when it started failing, not one per refused write.
      expect(first.output().match(/"storage failing"/g)?.length).toBe(1);
      socket.close();

      d.repair();
      const code = await Promise.race([first.proc.exited, Bun.sleep(20_000).then(() => "still running")]);
      expect(code).toBe(75);
      exited = true;
      await first.stop();
      expect(first.output()).toContain("storage lost, exiting with code 75");

      const second = await startBinary(inst.bin, { cwd: inst.dir, args });
      try {
        const api2 = client(second.url);
        expect((await api2.get("/health")).status).toBe(200);
        const sent = await api2.post(path, { content: "after", client_msg_id: "after" }, a.token);
        expect(sent.status).toBe(201);
        const history = await api2.get(`${path}?limit=50`, b.token);
        expect(history.body.map((m: any) => m.client_msg_id)).toEqual([...acked, "after"]);
      } finally {
        expect(await second.stop()).toBe(0);
      }
      const db = new Database(join(dataDir, DB_FILE), { readonly: true });
      expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check).toBe("ok");
      db.close();
    } finally {
      if (!exited) await first.stop("SIGKILL");
    }
  }, 120_000);
});
