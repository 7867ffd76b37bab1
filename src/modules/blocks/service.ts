// Blocks: who blocked whom. Every question the server asks is "who has blocked this user?" (may
// X send in this direct conversation, add these people, reach these members with typing and
// presence), so the in-memory cache is keyed by the blocked user: one set lookup per send.
//
// Kept exact in-process (block and unblock update the cached set after their commit) and dropped
// whole when another process commits (SQLite's data_version, as in messages/conversation-state.ts).
import type { Db } from "../../db/client";
import { externalChanges } from "../../db/external-changes";
import { ApiError, notFound, unprocessable } from "../../errors";
import { now } from "../../lib/time";
import { asc, desc, eq } from "drizzle-orm";
import { blocks, users, type UserRow } from "../../db/schema";
import { findUserById } from "../users/service";

/** Users whose blocker sets are kept; past it the cache starts over (a set is one indexed query). */
const MAX_CACHED_USERS = 100_000;
const EMPTY: ReadonlySet<string> = new Set();

export class BlockCache {
  private readonly blockers = new Map<string, Set<string>>();
  private version: number;
  private readonly changes;
  private readonly load;

  constructor(db: Db) {
    this.changes = externalChanges(db);
    this.version = this.changes.version();
    this.load = db.$client.query<{ blocker_id: string }, [string]>("SELECT blocker_id FROM blocks WHERE blocked_id = ?");
  }

  /** The users who have blocked `userId`. */
  blockersOf(userId: string): ReadonlySet<string> {
    const version = this.changes.version();
    if (version !== this.version) {
      this.blockers.clear();
      this.version = version;
    }
    const hit = this.blockers.get(userId);
    if (hit) return hit;
    const rows = this.load.all(userId);
    if (this.blockers.size >= MAX_CACHED_USERS) this.blockers.clear();
    if (rows.length === 0) {
      // Most users are blocked by nobody: no set of their own, but remembered as such.
      this.blockers.set(userId, EMPTY as Set<string>);
      return EMPTY;
    }
    const set = new Set(rows.map((r) => r.blocker_id));
    this.blockers.set(userId, set);
    return set;
  }

  /** After a committed block (added) or unblock (removed). */
  note(blockerId: string, blockedId: string, blocked: boolean) {
    const current = this.blockers.get(blockedId);
    if (!current) return;
    const next = new Set(current);
    if (blocked) next.add(blockerId);
    else next.delete(blockerId);
    this.blockers.set(blockedId, next);
  }
}

const cacheByDb = new WeakMap<Db, BlockCache>();

export function blockCache(db: Db): BlockCache {
  let cache = cacheByDb.get(db);
  if (!cache) cacheByDb.set(db, (cache = new BlockCache(db)));
  return cache;
}

/** Whether `blocker` has blocked `blocked`. */
export const hasBlocked = (db: Db, blocker: string, blocked: string) => blockCache(db).blockersOf(blocked).has(blocker);

export const blockedError = (detail: string) => new ApiError(403, "blocked", detail);

/** 403 `blocked` when any of `userIds` has blocked `adder` (they cannot be put into a group by them). */
export function assertNotBlockedBy(db: Db, adder: string, userIds: Iterable<string>) {
  const blockers = blockCache(db).blockersOf(adder);
  if (blockers.size === 0) return;
  for (const id of userIds) {
    if (blockers.has(id)) throw blockedError(`User ${id} cannot be added by you`);
  }
}

/** Blocks a user; blocking again changes nothing. */
export function block(db: Db, me: string, userId: string) {
  if (userId === me) throw unprocessable("user_id", "you cannot block yourself");
  if (!findUserById(db, userId)) throw notFound("User");
  db.$client
    .query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
    .run(me, userId, now());
  blockCache(db).note(me, userId, true);
}

/** Unblocks a user; unblocking someone not blocked (or nobody) changes nothing. */
export function unblock(db: Db, me: string, userId: string) {
  db.$client.query("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?").run(me, userId);
  blockCache(db).note(me, userId, false);
}

/** The users the caller has blocked, most recently blocked first. */
export function listBlocked(db: Db, me: string, limit: number, offset: number): UserRow[] {
  return db
    .select({ user: users })
    .from(blocks)
    .innerJoin(users, eq(users.id, blocks.blockedId))
    .where(eq(blocks.blockerId, me))
    .orderBy(desc(blocks.createdAt), asc(blocks.blockedId))
    .limit(limit)
    .offset(offset)
    .all()
    .map((r) => r.user);
}
