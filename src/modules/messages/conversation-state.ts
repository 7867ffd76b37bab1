// The conversation-state cache is a port (ports/stores.ts ConversationStateCache) in Deps.caches; the
// SQLite adapter builds it (db/stores/conversation-states.ts). This resolves it for callers holding the db.
import type { Db } from "../../db/client";
import type { ConversationHead, ConversationStateCache, ReadState } from "../../ports/stores";
import { storageOf } from "../storage-bridge";

export type { ConversationHead as ConversationState, ConversationStateCache, ReadState };

export const conversationStates = (db: Db): ConversationStateCache => storageOf(db).caches.conversationStates;
