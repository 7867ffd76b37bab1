// The Conversation as each member sees it, for a frame that goes to every online member
// (conversation_updated). Rendering toConversationViews once per member costs its queries once per
// member (tens of ms each in a 1,000-member group, so seconds of a blocked event loop per change);
// here the shared parts (members, count, last message, read cursors) are read once and
// each member's view only adds what is theirs (role, settings, unread count, is_read, own email).
//
// Frames carry the view as GET /conversations lists it: a group of more than LIST_PARTICIPANTS
// members shows its first LIST_PARTICIPANTS and the reader (member_count has the total; GET
// /conversations/{id} lists everyone), so a change in a big group does not send each member a
// thousand users.
//
// The shared parts are read before the change is reported (the feed renders synchronously), and
// each member's unread count only for the members online then: the feed renders for no one else.
import { andThenAll, type ConversationRow, type Storage } from "../../ports/stores";
import { iso, now } from "../../lib/time";
import type { Hub } from "../../ports/bus";
import { readStateIn } from "../messages/conversation-state";
import { toMessageView, type MessageRecord } from "../messages/message-view";
import { isReadFor } from "../messages/service";
import { toUserView } from "../users/service";
import { LIST_PARTICIPANTS, type ConversationView } from "./model";
import { conversationView } from "./conversation-view";
import type { ParticipantRow } from "./participants";

interface Shared {
  rows: ParticipantRow[];
  byId: Map<string, ParticipantRow>;
  head: ParticipantRow[];
  headViews: ConversationView["participants"];
  headMembers: ConversationView["members"];
  last: MessageRecord | null;
  readCursors: Map<string, number>;
  unread: Map<string, number>;
}

async function loadShared({ stores }: Storage, hub: Pick<Hub, "isOnline">, row: ConversationRow, cap: number): Promise<Shared> {
  const [rows, latest, cursors] = await Promise.all([
    stores.conversations.participants("", [row.id], Number.MAX_SAFE_INTEGER),
    row.lastSeq > 0 ? stores.messages.page(row.id, { limit: 1 }) : [],
    stores.messages.cursors(row.id),
  ]);
  const head = rows.slice(0, cap);
  const at = now();
  const online = rows.filter((p) => hub.isOnline(p.user.id)).map((p) => p.user.id);
  const unread = await andThenAll(online.map((id) => stores.messages.unread(id, at, [row.id])));
  return {
    rows,
    byId: new Map(rows.map((p) => [p.user.id, p])),
    head,
    headViews: head.map((p) => toUserView(p.user, hub)),
    headMembers: head.map((p) => ({ user_id: p.user.id, role: p.role, joined_at: iso(p.joinedAt) })),
    last: latest[0] ?? null,
    readCursors: new Map(cursors.map((c) => [c.user_id, c.last_read_seq])),
    unread: new Map(online.map((id, i) => [id, unread[i]![0]?.unread_count ?? 0])),
  };
}

/** Reads the shared parts, then gives each member's view of the conversation. */
export async function memberViewRenderer(s: Storage, hub: Pick<Hub, "isOnline">, row: ConversationRow, cap = LIST_PARTICIPANTS) {
  const shared = await loadShared(s, hub, row, cap);
  return (userId: string): ConversationView => {
    const { rows, byId, head, headViews, headMembers, last, readCursors, unread } = shared;
    const self = byId.get(userId);
    const participants = [...headViews];
    const members = [...headMembers];
    if (self) {
      const at = head.indexOf(self);
      const selfView = toUserView(self.user, hub, true);
      if (at >= 0) participants[at] = selfView;
      else {
        participants.push(selfView);
        members.push({ user_id: userId, role: self.role, joined_at: iso(self.joinedAt) });
      }
    }
    const state = last ? readStateIn(readCursors, userId) : null;
    return conversationView(row, {
      participants,
      memberCount: rows.length,
      members,
      self,
      lastMessage: last && state ? toMessageView(last, isReadFor(last, userId, state)) : null,
      unreadCount: unread.get(userId) ?? 0,
      at: now(),
    });
  };
}
