// Editing and deleting a message. Each is one revision of its conversation (changes/revision.ts):
// the message row is stamped with the new rev, then the change feed publishes `message_updated`.
// A request that changes nothing (the same content again, deleting a tombstone) spends no rev.
//
// Decisions (README "Message life"): only the sender edits; editing or reacting to a tombstone is a
// 404 (its content is gone, as for a message deleted while the client looked at it); deleting twice
// is a 204 that changes nothing. A tombstone keeps id, seq, sender, reply_to_id, reply_count and
// client_msg_id; content becomes "", mentions and reactions go.
import type { Db } from "../../db/client";
import { ApiError, notFound } from "../../errors";
import { releaseAttachments } from "../attachments/service";
import type { ChangeFeed } from "../../ports/changes";
import { commitRevision, NO_CHANGE } from "../changes/revision";
import { normalizeContent } from "./content";
import { conversationStates } from "./conversation-state";
import { findMentions } from "./mentions";
import { toMessageView, type MessageRecord } from "./message-view";
import type { MessageView } from "./model";
import { sqliteStoresOf } from "../storage-bridge";
import { findMessage, isReadFor } from "./service";

export const forbidden = (detail: string) => new ApiError(403, "forbidden", detail);
export const deletedMessage = () => new ApiError(404, "not_found", "Message not found (it was deleted)");

/** The message when the caller is a member of its conversation; 404 otherwise (existence must not leak). */
export function visibleMessage(db: Db, userId: string, messageId: string): MessageRecord {
  const message = findMessage(db, messageId);
  if (!message || !conversationStates(db).get(message.conversation_id)?.cursors.has(userId)) throw notFound("Message");
  return message;
}

/** The message as this caller sees it (is_read and reactions[].me are per reader). */
export function viewFor(db: Db, userId: string, record: MessageRecord): MessageView {
  const state = conversationStates(db).readState(record.conversation_id, userId);
  const reactions = sqliteStoresOf(db).messages.reactions([record.id]).get(record.id);
  return toMessageView(record, state ? isReadFor(record, userId, state) : false, reactions, userId);
}

/** Reports a committed change to one message to the feed (the feed renders per reader when needed). */
export function reportMessageUpdated(db: Db, feed: ChangeFeed, record: MessageRecord, at: number) {
  const reactions = record.deleted_at === null ? (sqliteStoresOf(db).messages.reactions([record.id]).get(record.id) ?? []) : [];
  feed.committed({ type: "message_updated", record, reactions, at });
}

export function editMessage(db: Db, feed: ChangeFeed, userId: string, messageId: string, rawContent: unknown): MessageView {
  const message = visibleMessage(db, userId, messageId);
  if (message.sender_id !== userId) throw forbidden("Only the sender can edit a message");
  if (message.deleted_at !== null) throw deletedMessage();
  const content = normalizeContent(rawContent);
  if (content === message.content) return viewFor(db, userId, message);
  const mentions = findMentions(db, message.conversation_id, content);
  let gone = false;
  const committed = commitRevision(db, message.conversation_id, {}, (rev, at) => {
    // Re-checked under the write lock: a delete or the same edit may have committed meanwhile.
    const current = findMessage(db, messageId);
    if (!current || current.deleted_at !== null) return (gone = true), NO_CHANGE;
    if (current.content === content) return NO_CHANGE;
    return sqliteStoresOf(db).messages.edit(messageId, content, mentions.length ? JSON.stringify(mentions) : null, rev, at)!;
  });
  if (gone) throw deletedMessage();
  if (!committed) return viewFor(db, userId, findMessage(db, messageId)!);
  reportMessageUpdated(db, feed, committed.result, committed.at);
  return viewFor(db, userId, committed.result);
}

/** Owners and admins of a group may delete anyone's message; everyone may delete their own. */
function mayDelete(db: Db, userId: string, message: MessageRecord): boolean {
  if (message.sender_id === userId) return true;
  if (!conversationStates(db).get(message.conversation_id)?.isGroup) return false;
  const role = sqliteStoresOf(db).conversations.roleOf(message.conversation_id, userId);
  return role === "owner" || role === "admin";
}

/** Turns the message into a tombstone; true when this call did it (false: it already was one). */
export function deleteMessage(db: Db, feed: ChangeFeed, userId: string, messageId: string): boolean {
  const message = visibleMessage(db, userId, messageId);
  if (!mayDelete(db, userId, message)) throw forbidden("Only the sender or an owner or admin of the group can delete this message");
  if (message.deleted_at !== null) return false;
  const committed = commitRevision(db, message.conversation_id, {}, (rev, at) => sqliteStoresOf(db).messages.tombstone(messageId, rev, at) ?? NO_CHANGE);
  if (!committed) return false;
  // A deleted message's files go with it: after the commit (a rolled-back delete keeps them).
  releaseAttachments(db, messageId);
  reportMessageUpdated(db, feed, committed.result, committed.at);
  return true;
}
