// The compiled executable, copied alone into an empty folder and run there with nothing but a port:
// the whole chat flow, its data directory, a restart, a clean SIGTERM, and the CLI's answers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { client } from "../support/api";
import { installInEmptyDir, runToExit, startBinary } from "../support/binary";
import { connect } from "../support/socket";
import { embeddedMigrations } from "../../src/db/migrations.generated";

describe("the binary in an empty folder", () => {
  let install: Awaited<ReturnType<typeof installInEmptyDir>>;
  beforeAll(async () => {
    install = await installInEmptyDir();
  });
  afterAll(() => install.cleanup());

  // Shared by the restart test below: issued by the first run, presented to the second.
  let firstToken = "";
  let firstUserId = "";
  let firstSecret = "";

  test("serves signup, both logins, a conversation, sends, lists, pushes to a socket, and exits 0 on SIGTERM", async () => {
    expect(readdirSync(install.dir)).toEqual(["chat-server"]);
    const running = await startBinary(install.bin, { cwd: install.dir });
    try {
      const api = client(running.url);
      const health = await api.get("/health");
      expect(health.status).toBe(200);
      expect(health.body.status).toBe("ok");

      const password = "correct horse battery";
      const signup = await api.post("/api/v1/auth/signup", { username: "alice", email: "alice@example.com", password, full_name: "Alice" });
      expect(signup.status).toBe(201);
      expect(signup.body.username).toBe("alice");
      expect(signup.body).not.toHaveProperty("password_hash");
      const bobSignup = await api.post("/api/v1/auth/signup", { username: "bob", email: "bob@example.com", password });
      expect(bobSignup.status).toBe(201);

      const jsonLogin = await api.post("/api/v1/auth/login", { username: "alice", password });
      expect(jsonLogin.status).toBe(200);
      expect(jsonLogin.body.token_type).toBe("bearer");
      expect(typeof jsonLogin.body.access_token).toBe("string");

      // The OAuth2 password form, as the docs page's Authorize button and the original clients send it.
      const formLogin = await api.request("POST", "/api/v1/auth/login", {
        form: { grant_type: "password", username: "bob", password, scope: "" },
      });
      expect(formLogin.status).toBe(200);
      const bobToken = formLogin.body.access_token as string;
      const aliceToken = jsonLogin.body.access_token as string;

      const me = await api.get("/api/v1/auth/me", bobToken);
      expect(me.status).toBe(200);
      expect(me.body.username).toBe("bob");
      expect(me.body.email).toBe("bob@example.com");

      const bobSocket = await connect(running.url, bobToken);
      const dm = await api.dm(aliceToken, bobSignup.body.id);
      expect(dm.status).toBe(201);
      expect(dm.body.participants.map((p: any) => p.username).sort()).toEqual(["alice", "bob"]);

      const sent = await api.send(aliceToken, dm.body.id, "hello from the binary", "m1");
      expect(sent.status).toBe(201);
      expect(sent.body.seq).toBe(1);
      expect(sent.body.recipient_id).toBe(bobSignup.body.id);

      const pushed = await bobSocket.waitFor((f) => f.type === "new_message" && f.message.id === sent.body.id);
      expect(pushed.message.content).toBe("hello from the binary");
      bobSocket.close();

      const list = await api.get(`/api/v1/conversations/${dm.body.id}/messages`, bobToken);
      expect(list.status).toBe(200);
      expect(list.body.map((m: any) => [m.seq, m.content])).toEqual([[1, "hello from the binary"]]);
      const conversations = await api.get("/api/v1/conversations", bobToken);
      expect(conversations.body.map((c: any) => c.id)).toEqual([dm.body.id]);
      expect(conversations.body[0].unread_count).toBe(1);

      firstToken = bobToken;
      firstUserId = bobSignup.body.id;
    } catch (error) {
      console.error(running.output());
      throw error;
    } finally {
      const code = await running.stop("SIGTERM");
      expect(code).toBe(0);
    }

    // ./data beside the binary, with the database and a private generated secret.
    const data = join(install.dir, "data");
    expect(statSync(data).isDirectory()).toBe(true);
    expect(existsSync(join(data, "chat.db"))).toBe(true);
    const secretFile = join(data, "jwt-secret");
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    firstSecret = readFileSync(secretFile, "utf8");
    expect(Buffer.byteLength(firstSecret.trim())).toBeGreaterThanOrEqual(32);

    // A clean stop leaves every committed row in the main database file.
    const db = new Database(join(data, "chat.db"), { readonly: true });
    try {
      expect((db.query("SELECT count(*) AS n FROM users").get() as { n: number }).n).toBe(2);
      expect((db.query("SELECT content FROM messages").all() as { content: string }[]).map((r) => r.content)).toEqual(["hello from the binary"]);
    } finally {
      db.close();
    }
  });

  test("a token issued before a restart still works after it (the secret is kept)", async () => {
    expect(firstToken).not.toBe("");
    const running = await startBinary(install.bin, { cwd: install.dir });
    try {
      const api = client(running.url);
      const me = await api.get("/api/v1/auth/me", firstToken);
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(firstUserId);
      const list = await api.get("/api/v1/conversations", firstToken);
      expect(list.body[0].last_message.content).toBe("hello from the binary");
    } catch (error) {
      console.error(running.output());
      throw error;
    } finally {
      expect(await running.stop("SIGTERM")).toBe(0);
    }
    expect(readFileSync(join(install.dir, "data", "jwt-secret"), "utf8")).toBe(firstSecret);
  });
});

describe("the binary's command line", () => {
  let install: Awaited<ReturnType<typeof installInEmptyDir>>;
  beforeAll(async () => {
    install = await installInEmptyDir();
  });
  afterAll(() => install.cleanup());
  const run = (args: string[], env?: Record<string, string>) => runToExit(install.bin, args, { cwd: install.dir, env });

  test("--version and the version command print a version and exit 0", async () => {
    for (const args of [["--version"], ["-v"], ["version"]]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+\S*$/);
    }
  });

  test("--help lists the commands and every setting with its variable, and exits 0", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    for (const word of ["serve", "migrate", "--port", "CHAT_PORT", "--data-dir", "CHAT_DATA_DIR", "--jwt-secret", "CHAT_JWT_SECRET"]) {
      expect(result.stdout).toContain(word);
    }
  });

  test("an unknown flag exits non-zero naming it, before touching the disk", async () => {
    const result = await run(["--frobnicate", "1"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--frobnicate");
    expect(readdirSync(install.dir)).toEqual(["chat-server"]);
  });

  test("an unknown command exits non-zero naming it", async () => {
    const result = await run(["frobnicate"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("frobnicate");
  });

  test("--port abc exits non-zero naming --port", async () => {
    const result = await run(["--port", "abc"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--port");
    expect(readdirSync(install.dir)).toEqual(["chat-server"]);
  });

  test("a CHAT_JWT_SECRET shorter than 32 bytes exits non-zero naming CHAT_JWT_SECRET", async () => {
    const result = await run([], { CHAT_JWT_SECRET: "too-short" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("CHAT_JWT_SECRET");
    expect(readdirSync(install.dir)).toEqual(["chat-server"]);
  });

  test("a bad value in the environment names its variable (CHAT_PORT)", async () => {
    const result = await run([], { CHAT_PORT: "99999" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("CHAT_PORT");
  });
});

describe("the migrate command", () => {
  test("on an empty data dir creates the schema, exits 0, and is a no-op the second time", async () => {
    const install = await installInEmptyDir();
    try {
      const first = await runToExit(install.bin, ["migrate"], { cwd: install.dir });
      expect(first.code).toBe(0);
      const dbPath = join(install.dir, "data", "chat.db");
      expect(existsSync(dbPath)).toBe(true);
      const db = new Database(dbPath, { readonly: true });
      try {
        const tables = (db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
        for (const table of ["users", "conversations", "members", "messages", "__drizzle_migrations"]) expect(tables).toContain(table);
        const applied = (db.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
        expect(applied).toBe(embeddedMigrations.length);
      } finally {
        db.close();
      }
      const second = await runToExit(install.bin, ["migrate"], { cwd: install.dir });
      expect(second.code).toBe(0);
    } finally {
      install.cleanup();
    }
  });
});
