// User rows by id for token checks on every authenticated request, through the users cache in
// Deps (ports/stores.ts says how it stays exact): every in-process write to a user row drops its
// entry (forgetCachedUser), so a revoked token stops working at once.
import { andThen, type Awaitable, type Storage, type UserRow } from "../../ports/stores";

export function userById({ stores, caches }: Storage, id: string): Awaitable<UserRow | null> {
  const hit = caches.users.get(id);
  if (hit) return hit;
  return andThen(stores.users.byId(id), (row) => {
    if (row) caches.users.set(id, row);
    return row;
  });
}

/** Every in-process write to a user row calls this, so the next request reads it afresh. */
export function forgetCachedUser({ caches }: Storage, id: string) {
  caches.users.delete(id);
}
