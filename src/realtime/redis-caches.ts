// Other instances' commits applied to this instance's conversation-state cache, as the change feed
// applies its own (modules/changes/feed.ts): a new message moves last_seq and rev, any other
// revision moves rev, a membership move drops the entry (re-read on next use), and a broker outage
// (changes of that time never relayed) drops every entry. Without this, an
// instance over a shared database (PostgreSQL) would keep a stale member list and refuse the
// first send of a member another instance just added. Read cursors move with the message_read
// events that carry them.
import type { ConversationStateCache as ConversationStates } from "../ports/stores";
import type { RemoteChange } from "./redis-bus";

export function followRemoteChanges(states: ConversationStates) {
  return (change: RemoteChange) => {
    if (change.kind === "outage") return states.clear();
    if (change.kind === "members") return states.invalidate(change.conversationId);
    if (change.kind === "read") return states.noteRead(change.conversationId, change.userId, change.seq);
    if (change.seq !== undefined) states.noteStored(change.conversationId, change.seq, change.rev);
    else states.noteRev(change.conversationId, change.rev);
  };
}
