// The PostgreSQL adapter of the storage ports: every store over the pool (or, for a revision's
// change, over its transaction), and the caches in front of them.
//
// Caches: several instances share the database. The conversation-state cache follows other
// instances' commits from the bus (conversation-states.ts says how it stays exact). Nothing tells
// an instance about user, token or block writes elsewhere, nor about the CLI's: a cache that cannot
// be kept exact is not used, so these three are NoCache for now: users (every authenticated request reads the
// row: one primary-key query), API tokens (one unique-index query per token request) and blockers
// (one index-only query per check). Each can become exact by dropping entries on bus events
// (user.updated / user.disabled; token.revoked; block.changed) from every instance and the CLI.
import type { ApiTokenRow, Cache, Caches, ConversationRow, Stores, UserRow, WebhookRow } from "../../../ports/stores";
import type { PgDb } from "../client";
import type { apiTokens, conversations, users, webhooks } from "../schema";
import { PgApiTokenStore } from "./api-tokens";
import { PgAttachmentStore } from "./attachments";
import { PgBlockStore } from "./blocks";
import type { PgHandle } from "./common";
import { PgConversationStates, type PgConversationStatesOptions } from "./conversation-states";
import { PgConversationStore } from "./conversations";
import { PgMessageStore } from "./messages";
import { PgSearchStore } from "./search";
import { PgUserStore } from "./users";
import { PgWebhookStore } from "./webhooks";

// The PostgreSQL schema's rows must be the ports' rows, both ways (booleans are real booleans,
// times numbers): a column added to one and not the other fails the typecheck here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const rowsMatch: [
  Same<typeof users.$inferSelect, UserRow>,
  Same<typeof apiTokens.$inferSelect, ApiTokenRow>,
  Same<typeof webhooks.$inferSelect, WebhookRow>,
  Same<typeof conversations.$inferSelect, ConversationRow>,
] = [true, true, true, true];
void rowsMatch;

/** A cache that keeps nothing: every get is a miss, so every read goes to the database. */
export class NoCache<K, V> implements Cache<K, V> {
  get(_key: K): V | undefined {
    return undefined;
  }
  set(_key: K, _value: V): void {}
  delete(_key: K): void {}
  clear(): void {}
  get size(): number {
    return 0;
  }
}

export type PostgresStores = Stores;
export type PostgresCaches = Caches;

function storesOn(db: PgHandle): Stores {
  return {
    users: new PgUserStore(db),
    apiTokens: new PgApiTokenStore(db),
    blocks: new PgBlockStore(db),
    // A revision's change gets these stores built on its transaction (its message writes stamp its rev).
    conversations: new PgConversationStore(db, storesOn),
    webhooks: new PgWebhookStore(db),
    search: new PgSearchStore(db),
    attachments: new PgAttachmentStore(db),
    messages: new PgMessageStore(db),
  };
}

/** Every store over this pool; their methods return promises. */
export function openPostgresStores(db: PgDb): PostgresStores {
  return storesOn(db as unknown as PgHandle);
}

/** The stores and their caches (see above; the conversation states in conversation-states.ts) for Deps. */
export function postgresStorage(db: PgDb, options: PgConversationStatesOptions = {}): { stores: PostgresStores; caches: PostgresCaches } {
  const stores = openPostgresStores(db);
  const caches: PostgresCaches = {
    users: new NoCache(),
    apiTokens: new NoCache(),
    blockers: new NoCache(),
    conversationStates: new PgConversationStates(stores.messages, options),
  };
  return { stores, caches };
}
