// Signup, login and bearer-token authentication.
import { eq, or } from "drizzle-orm";
import type { Db } from "../../db/client";
import { users, type UserRow } from "../../db/schema";
import { ApiError, unauthorized } from "../../errors";
import { now } from "../../lib/time";
import { isUsernameOrEmailTaken } from "../users/service";
import { userById } from "../users/user-cache";
import { API_TOKEN_PREFIX, apiTokenSession } from "./api-tokens";
import { dummyPasswordHash, hashPassword, verifyPassword } from "./passwords";
import type { TokenService } from "./tokens";

export interface SignupInput {
  username: string;
  email: string;
  password: string;
  full_name?: string | null;
}

/** A new account; a bot's password is one nobody knows (bots log in with API tokens only). */
export async function signup(db: Db, input: SignupInput, options: { bot?: boolean } = {}): Promise<UserRow> {
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
        isBot: options.bot ?? false,
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

/** The account a login text names (username or email, case-insensitively), if any. */
export function findUserByLogin(db: Db, login: string): UserRow | undefined {
  const key = login.toLowerCase();
  return db
    .select()
    .from(users)
    .where(or(eq(users.usernameKey, key), eq(users.emailKey, key)))
    .get();
}

/** One 401 and one hash's worth of time whether the user is unknown or the password is wrong. */
export async function checkCredentials(row: UserRow | undefined, password: string): Promise<UserRow> {
  const ok = await verifyPassword(password, row?.passwordHash ?? (await dummyPasswordHash()));
  // A disabled account, or a bot (its hash is of a password nobody knows, and it acts through API
  // tokens only), answers like a wrong password: the refusal says nothing about the password.
  if (!row || !ok || row.disabledAt !== null || row.isBot) throw badCredentials();
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

/** Whether a user row still honours tokens of this version: not deleted, not disabled, not revoked. */
export const sessionValid = (row: Pick<UserRow, "tokenVersion" | "disabledAt"> | null | undefined, tokenVersion: number) =>
  !!row && row.tokenVersion === tokenVersion && row.disabledAt === null;

export interface Session {
  user: UserRow;
  /** The login token's version (a bump ends the session); null for an API token. */
  tokenVersion: number | null;
  /** When the token stops working (Unix ms), null for an API token that never expires. */
  expiresAtMs: number | null;
  /** The API token that authenticated, so its revocation ends exactly its sockets. */
  apiTokenId: string | null;
}

/**
 * The session behind a login JWT or an API token (`chat_…`), or null: unknown or disabled user,
 * bumped version, revoked or expired API token and bad tokens alike.
 */
export async function sessionForToken(db: Db, tokens: TokenService, token: string | null): Promise<Session | null> {
  if (!token) return null;
  if (token.startsWith(API_TOKEN_PREFIX)) {
    const found = apiTokenSession(db, token);
    return found && { user: found.user, tokenVersion: null, expiresAtMs: found.token.expiresAt, apiTokenId: found.token.id };
  }
  const claims = await tokens.verify(token);
  if (!claims) return null;
  const user = userById(db, claims.sub);
  if (!sessionValid(user, claims.ver)) return null;
  return { user: user!, tokenVersion: claims.ver, expiresAtMs: claims.exp * 1000, apiTokenId: null };
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
