// The conversation-state cache is a port (ports/stores.ts ConversationStateCache) in Deps.caches; each
// storage adapter builds its own. This names its types for the modules and reads a reader's cursors
// out of a head already in hand (a view rendered for many members reads the head once).
import type { ConversationHead, ConversationStateCache, ReadState } from "../../ports/stores";

export type { ConversationHead as ConversationState, ConversationStateCache, ReadState };

/** From every member's read cursor: the reader's and the lowest of the others'; null when not a member. */
export function readStateIn(cursors: ReadonlyMap<string, number>, userId: string): ReadState | null {
  const mine = cursors.get(userId);
  if (mine === undefined) return null;
  let othersMin = Number.MAX_SAFE_INTEGER; // a group of one: your own messages count as read
  for (const [member, cursor] of cursors) if (member !== userId && cursor < othersMin) othersMin = cursor;
  return { mine, othersMin };
}
