// `token create|list|revoke`: long-lived API tokens for bots and scripts, administered on the data
// directory while the server runs. The secret is printed once by `create` and stored only hashed;
// a revoke is seen by the running server within a second (its sockets close with 4401).
import { ConfigError } from "../config";
import type { ApiTokenRow } from "../ports/stores";
import { iso, isoOrNull, now } from "../lib/time";
import { createApiToken, listApiTokens, revokeApiToken, tokenLive } from "../modules/auth/api-tokens";
import { defineCommand, defineGroup } from "./command";
import { withStorage } from "./storage";
import { findAccount } from "./user";

const settings = ["dataDir", "databaseUrl", "synchronous"] as ("dataDir" | "databaseUrl" | "synchronous")[];
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const MAX_TTL_MS = 10 * 365 * 86_400_000;
const MAX_NAME = 100;

/** "30d", "12h", "90m", "2w" in milliseconds, or null for "never". */
export function parseTtl(text: string): number | null {
  if (text === "never") return null;
  const match = /^(\d{1,6})([smhdw])$/.exec(text);
  const ms = match ? Number(match[1]) * UNITS[match[2]!]! : NaN;
  if (!(ms > 0) || ms > MAX_TTL_MS) throw new ConfigError(`--ttl: "${text}" is not a duration such as 30d, 12h, 90m or never (at most 10 years)`);
  return ms;
}

function status(row: ApiTokenRow, at: number) {
  if (row.revokedAt !== null) return "revoked";
  return tokenLive(row, at) ? "active" : "expired";
}

/** What `list --json` and `create --json` show of a token: everything but the hash. */
function view(row: ApiTokenRow & { username: string }, at = now()) {
  return {
    id: row.id,
    user_id: row.userId,
    username: row.username,
    name: row.name,
    status: status(row, at),
    created_at: iso(row.createdAt),
    expires_at: isoOrNull(row.expiresAt),
    last_used_at: isoOrNull(row.lastUsedAt),
    revoked_at: isoOrNull(row.revokedAt),
  };
}

const jsonOption = { flag: "--json", boolean: true, help: "Print JSON instead of text" } as const;
const usernameOption = { flag: "--username", value: "<name>", help: "Username or email of the account" } as const;

const create = defineCommand(
  {
    name: "token create",
    summary: "Create an API token for a user or bot and print it once (only its hash is stored).",
    description:
      "The token works as `Authorization: Bearer <token>` on the REST API and on sockets ({\"token\"} first frame or the\n" +
      "upgrade header) until it expires or is revoked. It is printed on a line `token: <value>`; keep it safe.",
    options: {
      username: usernameOption,
      ttl: { flag: "--ttl", value: "<30d|12h|never>", help: "Lifetime: a number with s, m, h, d or w, or never (default never)" },
      name: { flag: "--name", value: "<text>", help: `What the token is for, shown by token list (at most ${MAX_NAME} characters)` },
      json: jsonOption,
    },
    settings,
  },
  ({ options, config }) => {
    if (!options.username) throw new ConfigError("--username is required");
    const ttlMs = parseTtl(options.ttl ?? "never");
    const name = options.name?.trim() || null;
    if (name && name.length > MAX_NAME) throw new ConfigError(`--name: at most ${MAX_NAME} characters`);
    return withStorage(config, async (storage) => {
      const user = await findAccount(storage, options.username!);
      if (user.disabledAt !== null) throw new ConfigError(`${user.username} is disabled: enable it first (chat-server user enable)`);
      const { row, token } = await createApiToken(storage, user.id, { name, ttlMs });
      if (options.json) return console.log(JSON.stringify({ ...view({ ...row, username: user.username }), token }));
      const expiry = row.expiresAt === null ? "never expires" : `expires ${iso(row.expiresAt)}`;
      console.log(`created token ${row.id} for ${user.username}${name ? ` (${name})` : ""}; it ${expiry}`);
      console.log(`token: ${token}`);
      console.log("It is shown only now: store it in a secret store. Revoke it with: chat-server token revoke " + row.id);
    });
  },
);

const list = defineCommand(
  {
    name: "token list",
    summary: "List API tokens (id, user, name, status, dates); the tokens themselves cannot be shown.",
    options: { username: { ...usernameOption, help: "Only this account's tokens" }, json: jsonOption },
    settings,
  },
  ({ options, config }) =>
    withStorage(config, async (storage) => {
      const userId = options.username ? (await findAccount(storage, options.username)).id : undefined;
      const at = now();
      const rows = (await listApiTokens(storage, userId)).map((r) => view(r, at));
      if (options.json) return console.log(JSON.stringify(rows));
      if (rows.length === 0) return console.log("no tokens");
      const table = [
        ["ID", "USER", "NAME", "STATUS", "CREATED", "EXPIRES", "LAST USED"],
        ...rows.map((r) => [r.id, r.username, r.name ?? "-", r.status, r.created_at, r.expires_at ?? "never", r.last_used_at ?? "never"]),
      ];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
      for (const line of table) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
    }),
);

const revoke = defineCommand(
  {
    name: "token revoke",
    usage: "<id>",
    summary: "Revoke an API token: refused at once, its open sockets close with 4401 within about a second.",
    positionals: [{ name: "<id>", required: true }],
    settings,
  },
  ({ positionals, config }) =>
    withStorage(config, async (storage) => {
      const id = positionals[0]!;
      const result = await revokeApiToken(storage, id);
      if (!result) throw new ConfigError(`no token with id "${id}" (see chat-server token list)`);
      const { row, revoked } = result;
      console.log(`token ${row.id}${row.name ? ` (${row.name})` : ""} ${revoked ? "is now revoked" : "was already revoked"}`);
    }),
);

export const tokenCommand = defineGroup(
  "token",
  "Create, list and revoke API tokens for bots and scripts (token create|list|revoke)",
  "Administer long-lived API tokens in the data directory (safe while the server runs).",
  { create, list, revoke },
);
