// deploy/nginx-cluster.conf's upstream run for real (when nginx is installed) in front of three
// compiled instances: sockets opened through nginx spread over the instances with no stickiness,
// a message sent through one reaches the sockets on the others, and with one instance killed
// new sockets and requests through nginx still succeed. The upstream is used as shipped, with only
// the server addresses rewritten; the site around it is the WebSocket part of deploy/nginx.conf, in
// plain HTTP (test/deploy/nginx.test.ts covers TLS and the refused paths).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { client } from "../support/api";
import { freePort, ROOT } from "../support/binary";
import { closeAll, connect, type TestSocket } from "../support/socket";
import { until } from "./client";
import { clusterForFile, clusterSkipReason } from "./support";

const nginx = Bun.which("nginx") ?? (Bun.file("/usr/sbin/nginx").size > 0 ? "/usr/sbin/nginx" : null);
const skip = clusterSkipReason ?? (nginx ? null : "nginx is not installed (apt-get install nginx-light)");
if (skip && !clusterSkipReason) console.warn(`skipping test/cluster/nginx: ${skip}`);

describe.skipIf(skip !== null)("nginx in front of three instances (deploy/nginx-cluster.conf)", () => {
  const ctx = clusterForFile();
  let proc: Subprocess | undefined;
  let dir: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chat-nginx-cluster-"));
    const port = freePort();
    base = `http://127.0.0.1:${port}`;
    let n = 0;
    const upstream = readFileSync(join(ROOT, "deploy/nginx-cluster.conf"), "utf8").replace(/server 10\.0\.0\.\d+:8000/g, () => `server ${new URL(ctx.cluster.urls[n++]!).host}`);
    expect(n).toBe(3);
    const temp = (name: string) => `${name} ${join(dir, name.replace("_path", ""))};`;
    writeFileSync(
      join(dir, "nginx.conf"),
      `daemon off; master_process off; worker_processes 1; pid ${join(dir, "nginx.pid")}; error_log ${join(dir, "error.log")} warn;
       events { worker_connections 256; }
       http { access_log off; ${["client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"].map(temp).join(" ")}
         map $http_upgrade $connection_upgrade { default upgrade; '' close; }
         ${upstream}
         server {
           listen 127.0.0.1:${port};
           proxy_http_version 1.1;
           location = /api/v1/ws {
             proxy_pass http://chat_server;
             proxy_set_header Upgrade $http_upgrade;
             proxy_set_header Connection $connection_upgrade;
             proxy_read_timeout 3600s;
             proxy_buffering off;
           }
           location / { proxy_pass http://chat_server; proxy_set_header Connection ""; }
         }
       }`,
    );
    const check = Bun.spawnSync([nginx!, "-t", "-p", dir, "-c", join(dir, "nginx.conf")], { stderr: "pipe" });
    if (check.exitCode !== 0) throw new Error(`nginx -t rejected the cluster upstream: ${check.stderr}`);
    proc = Bun.spawn([nginx!, "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "ignore" });
    await until("nginx answers /health", async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200);
  });

  afterAll(async () => {
    proc?.kill();
    await proc?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Open sockets per instance, from its own /metrics (loopback clients need no token). */
  async function socketsPerInstance(): Promise<number[]> {
    return Promise.all(
      ctx.cluster.urls.map(async (url) => {
        const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => "");
        return Number(/^chat_websocket_connections\{state="authenticated"\} (\d+)/m.exec(text)?.[1] ?? 0);
      }),
    );
  }

  test("sockets through nginx land on every instance, and a message reaches all of them", async () => {
    const api = client(base);
    const members = await Promise.all(Array.from({ length: 6 }, (_, i) => api.newUser(`ngx${i}`)));
    const group = await api.group(members[0]!.token, "behind nginx", members.slice(1).map((m) => m.user.id));
    const sockets: TestSocket[] = [];
    for (const m of members) sockets.push(await connect(base, m.token));
    const spread = await socketsPerInstance();
    expect(spread.reduce((a, b) => a + b, 0)).toBe(6);
    expect(spread.every((count) => count > 0)).toBe(true);
    sockets[0]!.send({ type: "message", conversation_id: group.body.id, content: "through nginx", client_msg_id: "ngx-1" });
    for (const s of sockets) await s.waitFor((f) => (f.type === "new_message" || f.type === "message_ack") && f.message.client_msg_id === "ngx-1", 10_000);
    closeAll(...sockets);
  });

  test("with one instance killed, new sockets and requests through nginx still succeed", async () => {
    await ctx.cluster.instances[1]!.stop("SIGKILL");
    const api = client(base);
    for (let i = 0; i < 6; i++) {
      const user = await api.newUser(`after${i}`);
      const socket = await connect(base, user.token);
      closeAll(socket);
    }
  });
});
