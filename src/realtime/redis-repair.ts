// The repair of a gap (redis-gaps.ts) from the database: the messages whose current rev this
// instance never delivered, published to this instance's sockets only (every instance repairs its
// own). A message whose seq was never delivered goes out as new_message, any other as
// message_updated, each in its current state, like GET /conversations/{id}/changes serves it.
// A missing rev that was no message (a rename, a member added) is left to the clients: they see
// the rev jump on the next frame and `sync`, as the contract asks of them.
import { iso, now } from "../lib/time";
import { toMessageView } from "../modules/messages/message-view";
import { conversationTopic, userTopic } from "../ports/bus";
import { andThen, andThenAll, type ConversationHead, type MessageRecord, type ReactionTally, type Storage } from "../ports/stores";
import type { RedisBus } from "./redis-bus";
import type { Gap, Repaired } from "./redis-gaps";

/** At most this many messages per repair; beyond, clients see the rev jump and sync. */
const REPAIR_LIMIT = 1_000;

export function repairFromDatabase({ stores, caches }: Storage) {
  return (gap: Gap, bus: RedisBus) =>
    andThen(stores.messages.changedSince(gap.conversationId, gap.afterRev, REPAIR_LIMIT), (changed) => {
      const rows = changed.filter((m) => m.rev <= gap.untilRev && !gap.seen.has(m.rev));
      if (rows.length === 0) return [];
      const read = andThenAll<[Map<string, ReactionTally[]>, ConversationHead | null]>([
        stores.messages.reactions(rows.map((m) => m.id)),
        caches.conversationStates.get(gap.conversationId),
      ]);
      return andThen(read, ([reactions, head]) => publish(bus, gap, rows, reactions, [...(head?.cursors.keys() ?? [])]));
    });
}

function publish(bus: RedisBus, gap: Gap, rows: MessageRecord[], reactions: Map<string, ReactionTally[]>, memberIds: string[]): Repaired[] {
  const members = memberIds.filter((id) => bus.socketCount(id) > 0);
  const timestamp = iso(now());
  const sent: Repaired[] = [];
  for (const m of rows) {
    const created = !gap.seqDelivered(m.seq);
    const type = created ? "new_message" : "message_updated";
    sent.push({ rev: m.rev, seq: m.seq, created });
    const tallies = reactions.get(m.id);
    // Reactions carry `me`: such a message goes to each local member's own topic, as the feed does.
    if (tallies && tallies.length > 0 && m.deleted_at === null) {
      for (const id of members) bus.publishLocal(userTopic(id), { type, message: toMessageView(m, false, tallies, id), rev: m.rev, timestamp });
    } else bus.publishLocal(conversationTopic(m.conversation_id), { type, message: toMessageView(m, false), rev: m.rev, timestamp });
  }
  return sent;
}
