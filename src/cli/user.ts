// `user create [--bot]`, `user reset-password`, `user disable` and `user enable`: account administration on
// the data directory, safe while the server runs (it notices the commit within a second and closes
// the sockets the change revokes). Passwords come from --password, CHAT_NEW_PASSWORD or stdin (a prompt
// without echo on a terminal), and are hashed by the same service the API uses.
import { Value } from "@sinclair/typebox/value";
import { ConfigError } from "../config";
import { configurePasswords, hashPassword } from "../modules/auth/passwords";
import { SignupBody } from "../modules/auth/model";
import { signup } from "../modules/auth/service";
import { Password } from "../modules/users/model";
import { setDisabled } from "../modules/users/service";
import { now } from "../lib/time";
import type { Storage } from "../ports/stores";
import { withStorage } from "./storage";
import { defineCommand, defineGroup, type Command } from "./command";

const passwordOption = {
  flag: "--password",
  env: "CHAT_NEW_PASSWORD",
  value: "<password>",
  help: "The password; prefer the variable or stdin, since arguments show in the process list",
} as const;

const userSettings = ["dataDir", "databaseUrl", "synchronous", "passwordMemoryKib"] as ("dataDir" | "databaseUrl" | "synchronous" | "passwordMemoryKib")[];

/** First line of piped stdin, or a no-echo prompt (asked twice) on a terminal. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await Bun.stdin.text();
    const line = text.split(/\r?\n/)[0] ?? "";
    if (!line) throw new ConfigError("no password given: use --password, CHAT_NEW_PASSWORD or pipe it on stdin");
    return line;
  }
  const stty = (arg: string) => Bun.spawnSync(["stty", arg], { stdin: "inherit", stdout: "ignore", stderr: "ignore" });
  const lines = console[Symbol.asyncIterator]();
  const ask = async (prompt: string) => {
    process.stderr.write(prompt);
    stty("-echo");
    try {
      const next = await lines.next();
      return next.done ? "" : String(next.value);
    } finally {
      stty("echo");
      process.stderr.write("\n");
    }
  };
  const first = await ask("Password: ");
  const second = await ask("Repeat password: ");
  if (first !== second) throw new ConfigError("the passwords do not match");
  return first;
}

/** The first schema violation, named by its command-line flag. */
function invalid(schema: Parameters<typeof Value.Errors>[0], value: unknown): string | null {
  const first = Value.Errors(schema, value).First();
  if (!first) return null;
  const field = first.path.replace(/^\//, "").replaceAll("_", "-");
  return `${field ? "--" + field : "value"}: ${first.message}`;
}

/** The account named by username or email, or a ConfigError naming what was asked for. */
export async function findAccount({ stores }: Storage, name: string) {
  const row = await stores.users.byLoginKey(name.toLowerCase());
  if (!row) throw new ConfigError(`no user named "${name}"`);
  return row;
}

const create = defineCommand(
  {
    name: "user create",
    summary: "Create an account (same rules as signup: username 3-32 of [A-Za-z0-9_.-], password 8-256 characters).",
    options: {
      username: { flag: "--username", env: "CHAT_NEW_USERNAME", value: "<name>", help: "Username" },
      email: { flag: "--email", env: "CHAT_NEW_EMAIL", value: "<address>", help: "Email address" },
      fullName: { flag: "--full-name", value: "<text>", help: "Display name (optional)" },
      password: passwordOption,
      bot: {
        flag: "--bot",
        boolean: true,
        help: "A bot: no password login (it uses API tokens: chat-server token create); --email optional",
      },
    },
    settings: userSettings,
  },
  async ({ options, config }) => {
    const bot = options.bot === "true";
    if (!options.username) throw new ConfigError("--username is required");
    if (bot && options.password) throw new ConfigError("a bot has no password (--password, CHAT_NEW_PASSWORD): it uses API tokens only");
    // A bot needs no mailbox, but the column is unique and required: a reserved domain (RFC 2606).
    const email = options.email ?? (bot ? `${options.username.toLowerCase()}@bot.invalid` : undefined);
    if (!email) throw new ConfigError("--email is required");
    const input = { username: options.username, email, full_name: options.fullName ?? null, password: options.password ?? "" };
    const withoutPassword = invalid(SignupBody, { ...input, password: "x".repeat(8) });
    if (withoutPassword) throw new ConfigError(withoutPassword);
    if (bot) input.password = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    else if (!options.password) input.password = await readPassword();
    const bad = invalid(SignupBody, input);
    if (bad) throw new ConfigError(bad);
    configurePasswords({ memoryKib: config.passwordMemoryKib });
    await withStorage(config, async (storage) => {
      const row = await signup(storage, input, { bot });
      console.log(`created ${bot ? "bot" : "user"} ${row.username} (${row.id})`);
    });
  },
);

const resetPassword = defineCommand(
  {
    name: "user reset-password",
    summary: "Set a new password for a user; every token issued before stops working.",
    options: {
      username: { flag: "--username", env: "CHAT_NEW_USERNAME", value: "<name>", help: "Username or email of the account" },
      password: passwordOption,
      generate: { flag: "--generate", boolean: true, help: "Generate a random password and print it" },
    },
    settings: userSettings,
  },
  async ({ options, config }) => {
    if (!options.username) throw new ConfigError("--username is required");
    if (options.generate && options.password) throw new ConfigError("--generate and --password exclude each other");
    const generated = options.generate ? Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url") : null;
    const password = generated ?? options.password ?? (await readPassword());
    const bad = invalid(Password, password);
    if (bad) throw new ConfigError(bad.replace(/^value/, "password"));
    configurePasswords({ memoryKib: config.passwordMemoryKib });
    await withStorage(config, async (storage) => {
      const row = await findAccount(storage, options.username!);
      const passwordHash = await hashPassword(password);
      // The version bump is what makes tokens issued before this moment fail verification.
      await storage.stores.users.update(row.id, { passwordHash, tokenVersion: row.tokenVersion + 1, updatedAt: now() });
      console.log(`password reset for ${row.username} (${row.id}); existing tokens are revoked`);
      if (generated) console.log(`new password: ${generated}`);
    });
  },
);

/** `user disable` and `user enable`: the same command but for the state it sets. */
const toggle = (disable: boolean) =>
  defineCommand(
    {
      name: `user ${disable ? "disable" : "enable"}`,
      summary: disable
        ? "Disable an account: logins and existing tokens are refused, open sockets close (4401); messages are kept."
        : "Re-enable a disabled account: the user can log in again (tokens issued before the disable stay revoked).",
      options: { username: { flag: "--username", env: "CHAT_NEW_USERNAME", value: "<name>", help: "Username or email of the account" } },
      settings: ["dataDir", "databaseUrl", "synchronous"],
    },
    ({ options, config }) => {
      if (!options.username) throw new ConfigError("--username is required");
      return withStorage(config, async (storage) => {
        const row = await findAccount(storage, options.username!);
        const changed = await setDisabled(storage, row.id, disable);
        const state = disable ? "disabled" : "enabled";
        console.log(`${row.username} (${row.id}) ${changed ? "is now" : "was already"} ${state}`);
      });
    },
  );

const subcommands: Record<string, Command> = { create, "reset-password": resetPassword, disable: toggle(true), enable: toggle(false) };

export const userCommand = defineGroup(
  "user",
  "Create, disable and enable accounts, reset passwords (user create|reset-password|disable|enable)",
  "Administer accounts in the data directory (safe while the server runs).",
  subcommands,
);
