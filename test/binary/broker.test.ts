// The compiled executable with --broker-url against a real redis-server: two binaries (each its
// own data directory, so only what goes through Redis is shared) report the broker in /health and
// count the signup limit of one client address together; a Redis killed under them shows as
// unreachable, and as ok again once it is back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client } from "../support/api";
import { installInEmptyDir, startBinary, type RunningBinary } from "../support/binary";
import { redisAvailable, TestRedis } from "../support/redis";

const suite = redisAvailable ? describe : describe.skip;

suite("two binaries sharing a broker", () => {
  let install: Awaited<ReturnType<typeof installInEmptyDir>>;
  let redis: TestRedis;
  const running: RunningBinary[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    install = await installInEmptyDir();
    redis = await TestRedis.start();
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), "chat-broker-bin-"));
      dirs.push(dataDir);
      running.push(await startBinary(install.bin, { cwd: install.dir, args: ["--data-dir", dataDir, "--host", "127.0.0.1", "--broker-url", redis.url] }));
    }
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop("SIGTERM")));
    await redis?.stop();
    install?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test("/health reports the broker, and ten signups from one address on A leave none on B", async () => {
    const [a, b] = running.map((r) => client(r.url));
    expect((await a!.get("/health")).body).toMatchObject({ status: "ok", broker: "ok" });
    expect((await b!.get("/health")).body).toMatchObject({ status: "ok", broker: "ok" });
    for (let i = 0; i < 10; i++) {
      const signup = await a!.post("/api/v1/auth/signup", { username: `bin${i}`, email: `bin${i}@example.com`, password: "correct horse battery" });
      expect(signup.status).toBe(201);
    }
    const refused = await b!.post("/api/v1/auth/signup", { username: "binb", email: "binb@example.com", password: "correct horse battery" });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("rate_limited");
  });

  test("Redis killed: /health says unreachable (still 200); restarted: ok again", async () => {
    const a = client(running[0]!.url);
    await redis.kill();
    for (let i = 0; (await a.get("/health")).body.broker !== "unreachable"; i++) {
      if (i > 200) throw new Error("broker never reported unreachable");
      await Bun.sleep(50);
    }
    expect((await a.get("/health")).status).toBe(200);
    await redis.run();
    for (let i = 0; (await a.get("/health")).body.broker !== "ok"; i++) {
      if (i > 200) throw new Error("broker never reported ok again");
      await Bun.sleep(50);
    }
  });
});
