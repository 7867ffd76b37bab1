// The Conversation as each member sees it, for a frame that goes to every online member
// (conversation_updated). Rendering toConversationViews once per member costs its queries once per
// member (tens of ms each in a 1,000-member group, so seconds of a blocked event loop per change);
// here the shared parts (members, count, last message, everyone's unread count) are read once and
// each member's view only adds what is theirs (role, settings, unread count, is_read, own email).
//
// Frames carry the view as GET /conversations lists it: a group of more than LIST_PARTICIPANTS
// members shows its first LIST_PARTICIPANTS and the reader (member_count has the total; GET
// /conversations/{id} lists everyone), so a change in a big group does not send each member a
// thousand users.
import type { Db } from "../../db/client";
import type { ConversationRow } from "../../ports/stores";
import { iso, now } from "../../lib/time";
import type { Hub } from "../../ports/bus";
import { conversationStates } from "../messages/conversation-state";
import { MESSAGE_COLUMNS } from "../../db/message-sql";
import { toMessageView, type MessageRecord } from "../messages/message-view";
import { isReadFor } from "../messages/service";
import { toUserView } from "../users/service";
import { LIST_PARTICIPANTS, type ConversationView } from "./model";
import { conversationView } from "./conversation-view";
import type { ParticipantRow } from "./participants";
import { sqliteStoresOf } from "../storage-bridge";

interface Shared {
  rows: ParticipantRow[];
  byId: Map<string, ParticipantRow>;
  head: ParticipantRow[];
  headViews: ConversationView["participants"];
  headMembers: ConversationView["members"];
  last: MessageRecord | null;
  unread: Map<string, number>;
}

function loadShared(db: Db, hub: Pick<Hub, "isOnline">, row: ConversationRow, cap: number): Shared {
  const rows = sqliteStoresOf(db).conversations.participants("", [row.id], Number.MAX_SAFE_INTEGER);
  const head = rows.slice(0, cap);
  const last = db.$client
    .query<MessageRecord, [string, number]>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?`)
    .get(row.id, row.lastSeq);
  // Every member's unread count in one query: messages from others above each one's read cursor.
  const unread = db.$client
    .query<{ user_id: string; n: number }, [string]>(
      `SELECT mb.user_id AS user_id, count(m.seq) AS n FROM members mb
       JOIN messages m ON m.conversation_id = mb.conversation_id AND m.seq > mb.last_read_seq AND m.sender_id != mb.user_id
       WHERE mb.conversation_id = ? GROUP BY mb.user_id`,
    )
    .all(row.id);
  return {
    rows,
    byId: new Map(rows.map((p) => [p.user.id, p])),
    head,
    headViews: head.map((p) => toUserView(p.user, hub)),
    headMembers: head.map((p) => ({ user_id: p.user.id, role: p.role, joined_at: iso(p.joinedAt) })),
    last,
    unread: new Map(unread.map((u) => [u.user_id, u.n])),
  };
}

/** A function giving each member's view of the conversation; the shared parts are read on first use. */
export function memberViewRenderer(db: Db, hub: Pick<Hub, "isOnline">, row: ConversationRow, cap = LIST_PARTICIPANTS) {
  let shared: Shared | null = null;
  return (userId: string): ConversationView => {
    shared ??= loadShared(db, hub, row, cap);
    const { rows, byId, head, headViews, headMembers, last, unread } = shared;
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
    const state = last ? conversationStates(db).readState(row.id, userId) : null;
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
