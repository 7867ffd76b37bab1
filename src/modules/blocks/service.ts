// Blocks: who blocked whom. Every question the server asks is "who has blocked this user?" (may
// X send in this direct conversation, add these people, reach these members with typing and
// presence), so the blockers cache in Deps is keyed by the blocked user: one set lookup per send.
// Block and unblock update the cached set after their commit; how else it stays exact is the
// storage adapter's business (ports/stores.ts).
import { ApiError, notFound, unprocessable } from "../../errors";
import { now } from "../../lib/time";
import { andThen, type Awaitable, type Storage, type UserRow } from "../../ports/stores";

const EMPTY: ReadonlySet<string> = new Set();

/** The users who have blocked `userId` (synchronous when the store is). */
export function blockersOf({ stores, caches }: Storage, userId: string): Awaitable<ReadonlySet<string>> {
  const hit = caches.blockers.get(userId);
  if (hit) return hit;
  return andThen(stores.blocks.blockersOf(userId), (ids) => {
    // Most users are blocked by nobody: no set of their own, but remembered as such.
    const set = ids.length === 0 ? EMPTY : new Set(ids);
    caches.blockers.set(userId, set);
    return set;
  });
}

/** After a committed block (added) or unblock (removed). */
function note({ caches }: Storage, blockerId: string, blockedId: string, blocked: boolean) {
  const current = caches.blockers.get(blockedId);
  if (!current) return;
  const next = new Set(current);
  if (blocked) next.add(blockerId);
  else next.delete(blockerId);
  caches.blockers.set(blockedId, next);
}

/** Whether `blocker` has blocked `blocked`. */
export function hasBlocked(s: Storage, blocker: string, blocked: string): Awaitable<boolean> {
  return andThen(blockersOf(s, blocked), (set) => set.has(blocker));
}

export const blockedError = (detail: string) => new ApiError(403, "blocked", detail);

/**
 * 403 `blocked` when `userId` writes into a direct conversation whose other member blocked them:
 * a new message, and also an edit or a reaction, which put new text in front of the blocker too.
 */
export function assertNotBlockedInDirect(s: Storage, userId: string, conversationId: string, what: string): Awaitable<void> {
  return andThen(s.caches.conversationStates.get(conversationId), (state) => {
    if (!state || state.isGroup) return;
    const other = [...state.cursors.keys()].find((id) => id !== userId);
    if (other === undefined) return;
    return andThen(hasBlocked(s, other, userId), (blocked) => {
      if (blocked) throw blockedError(`You cannot ${what} in this conversation`);
    });
  });
}

/** 403 `blocked` when any of `userIds` has blocked `adder` (they cannot be put into a group by them). */
export function assertNotBlockedBy(s: Storage, adder: string, userIds: Iterable<string>): Awaitable<void> {
  return andThen(blockersOf(s, adder), (blockers) => {
    if (blockers.size === 0) return;
    for (const id of userIds) {
      if (blockers.has(id)) throw blockedError(`User ${id} cannot be added by you`);
    }
  });
}

/** Blocks a user; blocking again changes nothing. */
export async function block(s: Storage, me: string, userId: string) {
  if (userId === me) throw unprocessable("user_id", "you cannot block yourself");
  if (!(await s.stores.users.byId(userId))) throw notFound("User");
  await s.stores.blocks.add(me, userId, now());
  note(s, me, userId, true);
}

/** Unblocks a user; unblocking someone not blocked (or nobody) changes nothing. */
export async function unblock(s: Storage, me: string, userId: string) {
  await s.stores.blocks.remove(me, userId);
  note(s, me, userId, false);
}

/** The users the caller has blocked, most recently blocked first. */
export const listBlocked = ({ stores }: Storage, me: string, limit: number, offset: number): Awaitable<UserRow[]> =>
  stores.blocks.blockedBy(me, limit, offset);
