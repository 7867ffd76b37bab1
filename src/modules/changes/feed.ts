// The one path of committed changes (ports/changes.ts): caches first, then the event published
// once (encoded once by the bus), then consumers. A consumer that throws is logged and skipped:
// the change is committed and its event out, so nothing can be undone here.
import type { Db } from "../../db/client";
import type { Logger } from "../../lib/logger";
import { conversationTopic, type Hub } from "../../ports/bus";
import type { Change, ChangeConsumer, ChangeFeed } from "../../ports/changes";
import { iso } from "../../lib/time";
import { conversationStates } from "../messages/conversation-state";

export function createChangeFeed(db: Db, hub: Hub, log: Pick<Logger, "warn">): ChangeFeed {
  const states = conversationStates(db);
  const consumers = new Set<ChangeConsumer>();

  function apply(change: Change) {
    switch (change.type) {
      case "message_created": {
        const { message } = change;
        states.noteStored(message.conversation_id, message.seq);
        hub.publish(conversationTopic(message.conversation_id), { type: "new_message", message, timestamp: iso(change.at) });
        return;
      }
      case "read_moved": {
        const { receipt } = change;
        states.noteRead(receipt.conversation_id, receipt.user_id, receipt.last_read_seq);
        hub.publish(conversationTopic(receipt.conversation_id), { type: "message_read", ...receipt, timestamp: iso(change.at) });
        return;
      }
      case "conversation_created":
        // Already open sockets of every member receive the conversation's events from now on.
        hub.joinConversation(change.conversationId, change.memberIds);
        return;
    }
  }

  return {
    committed(change) {
      apply(change);
      for (const consumer of consumers) {
        try {
          consumer(change);
        } catch (error) {
          log.warn("change consumer failed", { change: change.type, error: String(error) });
        }
      }
    },
    consume(consumer) {
      consumers.add(consumer);
      return () => consumers.delete(consumer);
    },
  };
}
