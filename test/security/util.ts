// Shared pieces of the security suite: database fingerprints, contract-shape checks and hand-made tokens.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "bun:test";
import { SignJWT } from "jose";
import type { TestServer } from "../helpers";

const TABLES = ["users", "conversations", "members", "messages"] as const;

/** Row counts plus a hash of every row of every table: equal fingerprints mean nothing changed. */
export function fingerprint(server: TestServer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = server.db.$client.query(`SELECT * FROM ${table} ORDER BY rowid`).all();
    out[table] = `${rows.length}:${Bun.hash(JSON.stringify(rows)).toString(16)}`;
  }
  return out;
}

export function integrityOk(server: TestServer) {
  const row = server.db.$client.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get();
  return row?.integrity_check === "ok";
}

/** The signing secret the test server generated in its data directory. */
export function secretOf(server: TestServer): Uint8Array {
  return new TextEncoder().encode(readFileSync(join(server.dataDir, "jwt-secret"), "utf8").trim());
}

export interface TokenParts {
  alg?: "HS256" | "HS384" | "HS512";
  sub: string;
  ver?: number;
  iss?: string | null;
  exp?: number | null;
  iat?: number | null;
  extra?: Record<string, unknown>;
}

/** A token signed like the server's own unless a part is overridden (null drops the claim). */
export async function craftToken(secret: Uint8Array, parts: TokenParts): Promise<string> {
  const nowS = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { sub: parts.sub, ver: parts.ver ?? 0, ...parts.extra };
  if (parts.iss !== null) claims.iss = parts.iss ?? "chat-server";
  if (parts.exp !== null) claims.exp = parts.exp ?? nowS + 3600;
  if (parts.iat !== null) claims.iat = parts.iat ?? nowS;
  return new SignJWT(claims).setProtectedHeader({ alg: parts.alg ?? "HS256", typ: "JWT" }).sign(secret);
}

const b64url = (value: string | Uint8Array) => Buffer.from(value).toString("base64url");

/** An unsigned token (`alg: none`), as RFC 8725 §2.1 warns about. */
export function unsignedToken(claims: Record<string, unknown>, alg = "none"): string {
  return `${b64url(JSON.stringify({ alg, typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.`;
}

/** Strings that must never show up in a response body: stack frames, source paths, engine errors. */
const LEAKS = [
  /\bat .+:\d+:\d+/, // stack frame
  /\/(work|home|tmp|src|node_modules|root)\//,
  /\.(ts|js):\d+/,
  /SQLITE_/,
  /sqlite/i,
  /TypeError|ReferenceError|RangeError|SyntaxError/,
];

export function expectNoLeak(text: string, context = "") {
  for (const re of LEAKS) {
    if (re.test(text)) throw new Error(`response leaks internals (${re}) ${context}: ${text.slice(0, 400)}`);
  }
}

/** Every error response: the contract's {detail, code} body with non-empty strings, nothing else. */
export function expectErrorShape(body: unknown, context = "") {
  expect(body, context).toBeObject();
  const b = body as Record<string, unknown>;
  if (typeof b.detail !== "string" || typeof b.code !== "string" || !b.detail || !b.code) {
    throw new Error(`not a contract error body ${context}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  expect(Object.keys(b).sort()).toEqual(["code", "detail"]);
}

export const randomUuid = () => Bun.randomUUIDv7();
