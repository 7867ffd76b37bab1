// Editing and deleting a message. Each is one revision of its conversation (changes/revision.ts):
// the message row is stamped with the new rev, then the change feed publishes `message_updated`.
// A request that changes nothing (the same content again, deleting a tombstone) spends no rev.
//
// Decisions (README "Message life"): only the sender edits; editing or reacting to a tombstone is a
// 404 (its content is gone, as for a message deleted while the client looked at it); deleting twice
// is a 204 that changes nothing. A tombstone keeps id, seq, sender, reply_to_id, reply_count and
// client_msg_id; content becomes "", mentions and reactions go.
import { ApiError, notFound } from "../../errors";
import { releaseAttachments } from "../attachments/service";
import { assertNotBlockedInDirect } from "../blocks/service";
import type { ChangeFeed } from "../../ports/changes";
import { andThen, type Storage } from "../../ports/stores";
import { commitRevision, NO_CHANGE } from "../changes/revision";
import { normalizeContent } from "./content";
import { findMentions } from "./mentions";
import { toMessageView, type MessageRecord } from "./message-view";
import type { MessageView } from "./model";
import { findMessage, isReadFor } from "./service";

export const forbidden = (detail: string) => new ApiError(403, "forbidden", detail);
export const deletedMessage = () => new ApiError(404, "not_found", "Message not found (it was deleted)");

/** The message when the caller is a member of its conversation; 404 otherwise (existence must not leak). */
export async function visibleMessage(s: Storage, userId: string, messageId: string): Promise<MessageRecord> {
  const message = await findMessage(s, messageId);
  if (!message || !(await s.caches.conversationStates.get(message.conversation_id))?.cursors.has(userId)) throw notFound("Message");
  return message;
}

/** The message as this caller sees it (is_read and reactions[].me are per reader). */
export async function viewFor(s: Storage, userId: string, record: MessageRecord): Promise<MessageView> {
  const state = await s.caches.conversationStates.readState(record.conversation_id, userId);
  const reactions = (await s.stores.messages.reactions([record.id])).get(record.id);
  return toMessageView(record, state ? isReadFor(record, userId, state) : false, reactions, userId);
}

/**
 * Reports a committed change to one message to the feed (the feed renders per reader when needed).
 * Called right after the commit, with no await between: the feed's order is the commit order, and
 * the reactions read (async on PostgreSQL) is waited for inside the feed.
 */
export function reportMessageUpdated(s: Storage, feed: ChangeFeed, record: MessageRecord, at: number) {
  const reactions = record.deleted_at === null ? andThen(s.stores.messages.reactions([record.id]), (tallies) => tallies.get(record.id) ?? []) : [];
  feed.committed({ type: "message_updated", record, reactions, at });
}

export async function editMessage(s: Storage, feed: ChangeFeed, userId: string, messageId: string, rawContent: unknown): Promise<MessageView> {
  const message = await visibleMessage(s, userId, messageId);
  if (message.sender_id !== userId) throw forbidden("Only the sender can edit a message");
  if (message.deleted_at !== null) throw deletedMessage();
  await assertNotBlockedInDirect(s, userId, message.conversation_id, "edit messages");
  const content = normalizeContent(rawContent);
  if (content === message.content) return viewFor(s, userId, message);
  const mentions = await findMentions(s, message.conversation_id, content);
  let gone = false;
  const committed = await commitRevision(s, message.conversation_id, {}, (tx, rev, at) =>
    // Re-checked under the write lock: a delete or the same edit may have committed meanwhile.
    andThen(tx.messages.byId(messageId), (current) => {
      if (!current || current.deleted_at !== null) return (gone = true), NO_CHANGE;
      if (current.content === content) return NO_CHANGE;
      return andThen(tx.messages.edit(messageId, content, mentions.length ? JSON.stringify(mentions) : null, rev, at), (edited) => edited!);
    }),
  );
  if (gone) throw deletedMessage();
  if (!committed) return viewFor(s, userId, (await findMessage(s, messageId))!);
  reportMessageUpdated(s, feed, committed.result, committed.at);
  return viewFor(s, userId, committed.result);
}

/** Owners and admins of a group may delete anyone's message; everyone may delete their own. */
async function mayDelete(s: Storage, userId: string, message: MessageRecord): Promise<boolean> {
  if (message.sender_id === userId) return true;
  if (!(await s.caches.conversationStates.get(message.conversation_id))?.isGroup) return false;
  const role = await s.stores.conversations.roleOf(message.conversation_id, userId);
  return role === "owner" || role === "admin";
}

/** Turns the message into a tombstone; true when this call did it (false: it already was one). */
export async function deleteMessage(s: Storage, feed: ChangeFeed, userId: string, messageId: string, filesDir: string): Promise<boolean> {
  const message = await visibleMessage(s, userId, messageId);
  if (!(await mayDelete(s, userId, message))) throw forbidden("Only the sender or an owner or admin of the group can delete this message");
  if (message.deleted_at !== null) return false;
  const committed = await commitRevision(s, message.conversation_id, {}, (tx, rev, at) =>
    andThen(tx.messages.tombstone(messageId, rev, at), (record) => record ?? NO_CHANGE),
  );
  if (!committed) return false;
  reportMessageUpdated(s, feed, committed.result, committed.at);
  // A deleted message's files go with it: after the commit (a rolled-back delete keeps them).
  await releaseAttachments(s, messageId, filesDir);
  return true;
}
