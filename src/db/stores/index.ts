// The SQLite adapter of the storage ports: every store over one connection, and the caches in
// front of them, kept exact by this process's writes (services drop what they change) and by
// SQLite's data_version (another process's commit empties them: the CLI, an operator's sqlite3).
import type { ApiTokenRow, Caches, ConversationRow, Storage, Stores, UserRow, WebhookRow } from "../../ports/stores";
import { VersionedCache } from "../../lib/versioned-cache";
import type { Db } from "../client";
import { externalChanges } from "../external-changes";
import type { apiTokens, conversations, users, webhooks } from "../schema";
import { SqliteApiTokenStore } from "./api-tokens";
import { SqliteAttachmentStore } from "./attachments";
import { SqliteBlockStore } from "./blocks";
import { SqliteConversationStore } from "./conversations";
import { ConversationStates } from "./conversation-states";
import { SqliteMessageStore } from "./messages";
import { SqliteSearchStore } from "./search";
import { SqliteWebhookStore } from "./webhooks";
import { SqliteUserStore } from "./users";

// The schema's rows must be the ports' rows, both ways: a column added to one and not the other
// fails the typecheck here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const rowsMatch: [
  Same<typeof users.$inferSelect, UserRow>,
  Same<typeof apiTokens.$inferSelect, ApiTokenRow>,
  Same<typeof webhooks.$inferSelect, WebhookRow>,
  Same<typeof conversations.$inferSelect, ConversationRow>,
] = [true, true, true, true];
void rowsMatch;

/** Users whose rows, token texts and blocker sets are kept; past it a cache starts over. */
const MAX_CACHED_USERS = 50_000;
const MAX_CACHED_TOKENS = 10_000;
const MAX_CACHED_BLOCKED = 100_000;

export type SqliteStores = {
  users: SqliteUserStore;
  apiTokens: SqliteApiTokenStore;
  blocks: SqliteBlockStore;
  conversations: SqliteConversationStore;
  webhooks: SqliteWebhookStore;
  search: SqliteSearchStore;
  attachments: SqliteAttachmentStore;
  messages: SqliteMessageStore;
};

export interface SqliteStorage extends Storage {
  stores: SqliteStores & Stores;
}

function createSqliteStorage(db: Db): SqliteStorage {
  const version = externalChanges(db).version;
  const messages = new SqliteMessageStore(db);
  const caches: Caches = {
    conversationStates: new ConversationStates(db, messages),
    users: new VersionedCache(version, MAX_CACHED_USERS),
    apiTokens: new VersionedCache(version, MAX_CACHED_TOKENS),
    blockers: new VersionedCache(version, MAX_CACHED_BLOCKED),
  };
  const stores: SqliteStores = {
    users: new SqliteUserStore(db),
    apiTokens: new SqliteApiTokenStore(db),
    blocks: new SqliteBlockStore(db),
    // A revision's change runs with these same stores: one connection, so inside its transaction.
    conversations: new SqliteConversationStore(db, (): Stores => stores),
    webhooks: new SqliteWebhookStore(db),
    search: new SqliteSearchStore(db),
    attachments: new SqliteAttachmentStore(db),
    messages,
  };
  return { stores, caches };
}

// One storage per connection: the composition root and the callers that still hold the `db`
// (realtime/ and the messages hot path, until they take Deps) must share one set of caches, or a
// write through one would leave the other's stale.
const byConnection = new WeakMap<Db, SqliteStorage>();

/** The stores and caches of this connection (built on first use). */
export function sqliteStorage(db: Db): SqliteStorage {
  let storage = byConnection.get(db);
  if (!storage) byConnection.set(db, (storage = createSqliteStorage(db)));
  return storage;
}
