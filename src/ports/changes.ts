// The change feed port: every committed change enters here once, after its commit. The feed keeps
// caches exact, publishes the change's event once on the bus, then hands it to later consumers
// (search index, mentions, metrics). Nothing else publishes changes; presence and typing are not
// changes (nothing is stored) and go straight to the bus.
//
// Every change a conversation's members must see took the conversation's next `rev` in its own
// transaction (gap-free, like seq); read and delivery cursors are not revisions.
import type { ConversationView } from "../modules/conversations/model";
import type { MessageRecord, ReactionTally } from "./rows";
import type { Awaitable } from "./stores";
import type { MessageView, ReadReceipt } from "../modules/messages/model";

export type Change =
  | { type: "message_created"; message: MessageView; at: number }
  /** Edited, deleted (tombstone), reacted to, or replied to: the message in its new state. */
  /** `reactions` may still be a read in flight (PostgreSQL): the feed waits for it, in order. */
  | { type: "message_updated"; record: MessageRecord; reactions: Awaitable<ReactionTally[]>; at: number }
  | { type: "read_moved"; receipt: Omit<ReadReceipt, "read_at">; at: number }
  | { type: "delivered_moved"; conversationId: string; userId: string; lastDeliveredSeq: number; at: number }
  /** A new conversation (rev 0): its members' open sockets join it and are shown it. */
  | { type: "conversation_created"; conversationId: string; memberIds: string[]; viewFor(userId: string): ConversationView; at: number }
  | {
      type: "conversation_updated";
      conversationId: string;
      rev: number;
      /** Members after the change; `added` and `removed` are the membership moves it made. */
      memberIds: string[];
      added: string[];
      removed: string[];
      /** The Conversation as one member sees it (unread counts, role, settings differ per member). */
      viewFor(userId: string): ConversationView;
      at: number;
    }
  /** A member's own settings (mute, pin) changed: not a revision, shown only to that member's devices. */
  | { type: "settings_changed"; conversationId: string; userId: string; viewFor(userId: string): ConversationView; at: number };

export type ChangeConsumer = (change: Change) => void;

export interface ChangeFeed {
  /**
   * Called once per change, synchronously after its commit (and after the writer's acks): the
   * conversation's events go out in the order of these calls, which must be commit order.
   */
  committed(change: Change): void;
  /**
   * As `committed`, for a change still being read after its commit: its place in the order is
   * taken now. Returns, when the change is pending, a promise settled once its event is out (or
   * its read failed, which is logged): the caller answers its client after caches and sockets moved.
   */
  committedPending(conversationId: string, change: Awaitable<Change>): Promise<void> | void;
  /** Adds a consumer called after caches and the bus; returns the function that removes it. */
  consume(consumer: ChangeConsumer): () => void;
}
