// Signup, login and bearer-token authentication.
import { eq, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
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
  if (!row || !ok) throw badCredentials();
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

// Prepared once per database: this lookup runs on every authenticated request.
const userById = new WeakMap<Db, ReturnType<typeof prepareUserById>>();
const prepareUserById = (db: Db) =>
  db.select().from(users).where(eq(users.id, sql.placeholder("id"))).prepare();
const userByIdStatement = (db: Db) => {
  let statement = userById.get(db);
  if (!statement) userById.set(db, (statement = prepareUserById(db)));
  return statement;
};

/** The user behind a token, or null: unknown user, bumped token version and bad tokens alike. */
export async function userForToken(db: Db, tokens: TokenService, token: string | null): Promise<UserRow | null> {
  if (!token) return null;
  const claims = await tokens.verify(token);
  if (!claims) return null;
  const row = userByIdStatement(db).get({ id: claims.sub });
  if (!row || row.tokenVersion !== claims.ver) return null;
  return row;
}

export async function requireUser(db: Db, tokens: TokenService, authorization: string | null | undefined) {
  if (!authorization) throw unauthorized("Not authenticated");
  const token = bearerToken(authorization);
  if (!token) throw unauthorized("Authorization must be a Bearer token");
  const user = await userForToken(db, tokens, token);
  if (!user) throw unauthorized("Could not validate credentials");
  return user;
}
