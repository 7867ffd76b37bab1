// The change feed port: every committed change enters here once, after its commit. The feed keeps
// caches exact, publishes the change's event once on the bus, then hands it to later consumers
// (webhook outbox, search index, mentions). Nothing else publishes changes; presence and typing
// are not changes (nothing is stored) and go straight to the bus.
import type { MessageView, ReadReceipt } from "../modules/messages/model";

export type Change =
  | { type: "message_created"; message: MessageView; at: number }
  | { type: "read_moved"; receipt: Omit<ReadReceipt, "read_at">; at: number }
  | { type: "conversation_created"; conversationId: string; memberIds: string[]; at: number };

export type ChangeConsumer = (change: Change) => void;

export interface ChangeFeed {
  /** Called once per change, synchronously after its commit (and after the writer's acks). */
  committed(change: Change): void;
  /** Adds a consumer called after caches and the bus; returns the function that removes it. */
  consume(consumer: ChangeConsumer): () => void;
}
