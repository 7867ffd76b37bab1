// Signup, login and bearer-token authentication.
import type { Statement } from "bun:sqlite";
import { eq, getTableColumns, or } from "drizzle-orm";
import type { Db } from "../../db/client";
import { externalChanges } from "../../db/external-changes";
import { users, type UserRow } from "../../db/schema";
import { ApiError, unauthorized } from "../../errors";
import { now } from "../../lib/time";
import { isUsernameOrEmailTaken } from "../users/service";
import { dummyPasswordHash, hashPassword, verifyPassword } from "./passwords";
import type { TokenService } from "./tokens";

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | null;
}

export async function signup(db: Db, input: SignupInput): Promise<UserRow> {
  const usernameKey = input.username.toLowerCase();
  const emailKey = input.email.toLowerCase();
  isUsernameOrEmailTaken(db, usernameKey, emailKey); // fail fast before the slow hash
  const passwordHash = await hashPassword(input.password);
  const at = now();
  return db.transaction((tx) => {
    isUsernameOrEmailTaken(tx as unknown as Db, usernameKey, emailKey); // and again, atomically
    return tx
      .insert(users)
      .values({
        id: Bun.randomUUIDv7(),
        username: input.username,
        usernameKey,
        email: input.email,
        emailKey,
        passwordHash,
        fullName: input.full_name ?? null,
        fullNameKey: input.full_name?.toLowerCase() ?? null,
        createdAt: at,
        updatedAt: at,
      })
      .returning()
      .get();
  });
}

const badCredentials = () =>
  new ApiError(401, "invalid_credentials", "Incorrect username or password", { "WWW-Authenticate": "Bearer" });

/** One 401 and one hash's worth of time whether the user is unknown or the password is wrong. */
export async function checkCredentials(db: Db, login: string, password: string): Promise<UserRow> {
  const key = login.toLowerCase();
  const row = db
    .select()
    .from(users)
    .where(or(eq(users.usernameKey, key), eq(users.emailKey, key)))
    .get();
  const ok = await verifyPassword(password, row?.passwordHash ?? (await dummyPasswordHash()));
  // A disabled account answers like a wrong password: the refusal says nothing about the password.
  if (!row || !ok || row.disabledAt !== null) throw badCredentials();
  return row;
}

export async function issueToken(tokens: TokenService, user: UserRow) {
  return {
    access_token: await tokens.sign(user.id, user.tokenVersion),
    token_type: "bearer" as const,
    expires_in: tokens.ttlSeconds,
  };
}

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

// Runs on every authenticated request, so rows are kept in memory: dropped here when this process
// changes a user (forgetCachedUser) and all at once when another process commits (the CLI's
// reset-password bumps token_version), so a revoked token stops working at once. Misses use a
// plain prepared statement whose column aliases come from the Drizzle table.
const USER_SELECT = `SELECT ${Object.entries(getTableColumns(users))
  .map(([key, column]) => `"${column.name}" AS "${key}"`)
  .join(", ")} FROM users WHERE id = ?`;
const MAX_CACHED_USERS = 50_000;

interface UserCache {
  rows: Map<string, UserRow>;
  byId: Statement<UserRow, [string]>;
  version: number;
}
const userCaches = new WeakMap<Db, UserCache>();

function userCache(db: Db): UserCache {
  let cache = userCaches.get(db);
  if (!cache) {
    cache = { rows: new Map(), byId: db.$client.query<UserRow, [string]>(USER_SELECT), version: externalChanges(db).version() };
    userCaches.set(db, cache);
  }
  return cache;
}

export function userById(db: Db, id: string): UserRow | null {
  const cache = userCache(db);
  const version = externalChanges(db).version();
  if (version !== cache.version) {
    cache.rows.clear();
    cache.version = version;
  }
  const hit = cache.rows.get(id);
  if (hit) return hit;
  const row = cache.byId.get(id);
  if (!row) return null;
  if (cache.rows.size >= MAX_CACHED_USERS) cache.rows.clear();
  cache.rows.set(id, row);
  return row;
}

/** Every in-process write to a user row calls this, so the next request reads it afresh. */
export function forgetCachedUser(db: Db, id: string) {
  userCaches.get(db)?.rows.delete(id);
}

/** Whether a user row still honours tokens of this version: not deleted, not disabled, not revoked. */
export const sessionValid = (row: Pick<UserRow, "tokenVersion" | "disabledAt"> | null | undefined, tokenVersion: number) =>
  !!row && row.tokenVersion === tokenVersion && row.disabledAt === null;

/** The user and claims behind a token, or null: unknown or disabled user, bumped version and bad tokens alike. */
export async function sessionForToken(db: Db, tokens: TokenService, token: string | null) {
  if (!token) return null;
  const claims = await tokens.verify(token);
  if (!claims) return null;
  const user = userById(db, claims.sub);
  if (!sessionValid(user, claims.ver)) return null;
  return { user: user!, claims };
}

/** The user behind a token, or null (see sessionForToken). */
export async function userForToken(db: Db, tokens: TokenService, token: string | null): Promise<UserRow | null> {
  return (await sessionForToken(db, tokens, token))?.user ?? null;
}

export async function requireUser(db: Db, tokens: TokenService, authorization: string | null | undefined) {
  if (!authorization) throw unauthorized("Not authenticated");
  const token = bearerToken(authorization);
  if (!token) throw unauthorized("Authorization must be a Bearer token");
  const user = await userForToken(db, tokens, token);
  if (!user) throw unauthorized("Could not validate credentials");
  return user;
}
