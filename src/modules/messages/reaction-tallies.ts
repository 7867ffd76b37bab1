// Reactions as the Message view shows them: per message, each emoji with who reacted, in the order
// of first reaction. One read for a whole page (MessageStore.reactions), for callers holding the db.
import type { Db } from "../../db/client";
import type { ReactionTally } from "../../ports/stores";
import { sqliteStoresOf } from "../storage-bridge";

export const loadReactions = (db: Db, messageIds: string[]): Map<string, ReactionTally[]> =>
  sqliteStoresOf(db).messages.reactions(messageIds);
