// The one path of committed changes (ports/changes.ts): caches first, then the event published
// once (encoded once by the bus), then consumers. A consumer that throws is logged and skipped:
// the change is committed and its event out, so nothing can be undone here.
//
// Frames of one conversation go out in the order their changes were reported (which is commit, so
// rev, order): a change whose event still needs a read (PostgreSQL: the reactions of an updated
// message, a cache miss) holds back the conversation's later events until it is out, so a client
// never sees a rev after a newer one. On SQLite every read returns at once and nothing is queued.
//
// Frames whose content depends on the reader (a message with reactions: `me`; a Conversation:
// unread count, role, settings) go to each online member's own topic instead of the conversation's.
import type { Logger } from "../../lib/logger";
import { conversationTopic, userTopic, type Hub } from "../../ports/bus";
import type { Change, ChangeConsumer, ChangeFeed } from "../../ports/changes";
import { iso } from "../../lib/time";
import { andThen, andThenAll, type Awaitable, type ConversationStateCache as ConversationStates } from "../../ports/stores";
import { toMessageView } from "../messages/message-view";

export function createChangeFeed(states: ConversationStates, hub: Hub, log: Pick<Logger, "warn">): ChangeFeed {
  const consumers = new Set<ChangeConsumer>();
  /** Per conversation: the tail of its events still waiting on a read; later ones queue behind it. */
  const waiting = new Map<string, Promise<void>>();

  /** Runs `work` after the conversation's waiting events; keeps it waiting in turn while it is pending. */
  function inOrder(conversationId: string, work: () => Awaitable<void>): Promise<void> | undefined {
    // The common case (SQLite, or nothing pending): no lookup, no closure kept.
    const tail = waiting.size === 0 ? undefined : waiting.get(conversationId);
    const done = tail ? tail.then(work) : work();
    if (done instanceof Promise) return track(conversationId, done);
  }

  function track(conversationId: string, done: Promise<void>): Promise<void> {
    const guarded = done.catch((error) => log.warn("change event failed", { conversation_id: conversationId, error: String(error) }));
    waiting.set(conversationId, guarded);
    guarded.then(() => {
      if (waiting.get(conversationId) === guarded) waiting.delete(conversationId);
    });
    return guarded;
  }

  function deliver(change: Change): Awaitable<void> {
    const published = apply(change);
    return published instanceof Promise ? published.then(() => notify(change)) : notify(change);
  }

  function notify(change: Change) {
    for (const consumer of consumers) {
      try {
        consumer(change);
      } catch (error) {
        log.warn("change consumer failed", { change: change.type, error: String(error) });
      }
    }
  }

  function apply(change: Change): Awaitable<void> {
    const timestamp = iso(change.at);
    switch (change.type) {
      case "message_created": {
        const { message } = change;
        states.noteStored(message.conversation_id, message.seq, message.rev);
        hub.publish(conversationTopic(message.conversation_id), { type: "new_message", message, rev: message.rev, timestamp });
        return;
      }
      case "message_updated": {
        const { record } = change;
        states.noteRev(record.conversation_id, record.rev);
        // Published once the state and reactions are in hand: at once from memory (SQLite), after reads elsewhere.
        return andThen(andThenAll([states.get(record.conversation_id), change.reactions] as const), ([state, reactions]) => {
          if (!state) return;
          const frameFor = (viewerId?: string) => {
            const cursor = viewerId === undefined ? 0 : (state.cursors.get(viewerId) ?? 0);
            // is_read as v1 defines it, for this reader (the sender: every other member has read it).
            let isRead = cursor >= record.seq;
            if (viewerId === record.sender_id) {
              isRead = true;
              for (const [member, c] of state.cursors) if (member !== viewerId && c < record.seq) isRead = false;
            }
            return { type: "message_updated", message: toMessageView(record, isRead, reactions, viewerId), rev: record.rev, timestamp };
          };
          if (reactions.length === 0 || record.deleted_at !== null) {
            hub.publish(conversationTopic(record.conversation_id), frameFor());
            return;
          }
          for (const member of state.cursors.keys()) if (hub.isOnline(member)) hub.publish(userTopic(member), frameFor(member));
        });
        return;
      }
      case "read_moved": {
        const { receipt } = change;
        states.noteRead(receipt.conversation_id, receipt.user_id, receipt.last_read_seq);
        hub.publish(conversationTopic(receipt.conversation_id), { type: "message_read", ...receipt, timestamp });
        return;
      }
      case "delivered_moved":
        hub.publish(conversationTopic(change.conversationId), {
          type: "message_delivered",
          conversation_id: change.conversationId,
          user_id: change.userId,
          last_delivered_seq: change.lastDeliveredSeq,
          timestamp,
        });
        return;
      case "conversation_created": {
        // Already open sockets of every member receive the conversation's events from now on, and
        // learn of it at once (as a member added later does), not only with its first message.
        hub.joinConversation(change.conversationId, change.memberIds);
        for (const userId of change.memberIds) {
          if (!hub.isOnline(userId)) continue;
          const conversation = change.viewFor(userId);
          hub.publish(userTopic(userId), { type: "conversation_updated", conversation, rev: conversation.rev, timestamp });
        }
        return;
      }
      case "conversation_updated": {
        const { conversationId, rev } = change;
        // Members changed: the cached state is re-read on next use, sockets follow at once.
        states.invalidate(conversationId);
        if (change.removed.length > 0) hub.leaveConversation(conversationId, change.removed);
        if (change.added.length > 0) hub.joinConversation(conversationId, change.added);
        for (const userId of change.removed) {
          hub.publish(userTopic(userId), { type: "conversation_removed", conversation_id: conversationId, rev, timestamp });
        }
        for (const userId of change.memberIds) {
          if (!hub.isOnline(userId)) continue;
          hub.publish(userTopic(userId), { type: "conversation_updated", conversation: change.viewFor(userId), rev, timestamp });
        }
        return;
      }
      case "settings_changed": {
        // The member's other devices; rev is the conversation's current one (settings take none).
        if (!hub.isOnline(change.userId)) return;
        const conversation = change.viewFor(change.userId);
        hub.publish(userTopic(change.userId), { type: "conversation_updated", conversation, rev: conversation.rev, timestamp });
        return;
      }
    }
  }

  return {
    committed(change) {
      inOrder(conversationOf(change), () => deliver(change));
    },
    committedPending(conversationId, change) {
      if (!(change instanceof Promise)) return void this.committed(change);
      return inOrder(conversationId, () => change.then(deliver));
    },
    consume(consumer) {
      consumers.add(consumer);
      return () => consumers.delete(consumer);
    },
  };
}

function conversationOf(change: Change): string {
  switch (change.type) {
    case "message_created":
      return change.message.conversation_id;
    case "message_updated":
      return change.record.conversation_id;
    case "read_moved":
      return change.receipt.conversation_id;
    default:
      return change.conversationId;
  }
}
