// Hand-made tokens: signed like the server's own (or deliberately not), to probe what it accepts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";
import type { TestServer } from "./server";

/** The test server's signing secret: the configured one (PostgreSQL), else the one it generated in its data directory. */
export function secretOf(server: TestServer): Uint8Array {
  const configured = server.deps.config.jwtSecret;
  return new TextEncoder().encode(configured || readFileSync(join(server.dataDir, "jwt-secret"), "utf8").trim());
}

/**
 * A token signed with `key` (a test server means its own secret), carrying the server's usual claims
 * (iss, ver 0, iat now, exp in an hour) overridden by `claims`; a null claim is left out.
 */
export async function craftToken(
  key: TestServer | Uint8Array,
  claims: Record<string, unknown>,
  options: { alg?: "HS256" | "HS384" | "HS512" } = {},
): Promise<string> {
  const secret = key instanceof Uint8Array ? key : secretOf(key);
  const nowS = Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = { iss: "chat-server", ver: 0, iat: nowS, exp: nowS + 3600, ...claims };
  for (const [k, v] of Object.entries(all)) if (v === null) delete all[k];
  return new SignJWT(all).setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" }).sign(secret);
}

const b64url = (value: string | Uint8Array) => Buffer.from(value).toString("base64url");

/** An unsigned token (`alg: none`), as RFC 8725 §2.1 warns about. */
export function unsignedToken(claims: Record<string, unknown>, alg = "none"): string {
  return `${b64url(JSON.stringify({ alg, typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.`;
}
