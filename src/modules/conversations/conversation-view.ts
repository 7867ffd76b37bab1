// The Conversation as one reader sees it, from its row and the reader's parts: the list, GET one and
// the per-member conversation_updated frames (member-views.ts) all assemble it here.
import type { ConversationRow } from "../../ports/stores";
import { iso } from "../../lib/time";
import type { ConversationView, MemberView } from "./model";
import { isMutedNow, type ParticipantRow } from "./participants";

/** What a Conversation shows one reader besides its row: the list, GET and frames all build it here. */
export interface ConversationParts {
  participants: ConversationView["participants"];
  memberCount: number;
  members: MemberView[];
  /** The reader's own member row (role and settings). */
  self: ParticipantRow | undefined;
  lastMessage: ConversationView["last_message"];
  unreadCount: number;
  at: number;
}

export function conversationView(row: ConversationRow, parts: ConversationParts): ConversationView {
  const { self } = parts;
  const muted = self ? isMutedNow(self.muted, self.mutedUntil, parts.at) : false;
  return {
    id: row.id,
    name: row.name,
    is_group: row.isGroup,
    created_by: row.createdBy,
    rev: row.rev,
    participants: parts.participants,
    member_count: parts.memberCount,
    members: parts.members,
    my_role: self?.role ?? "member",
    muted,
    muted_until: muted && self!.mutedUntil !== null ? iso(self!.mutedUntil) : null,
    pinned: self?.pinned ?? false,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    last_message: parts.lastMessage,
    unread_count: parts.unreadCount,
  };
}
