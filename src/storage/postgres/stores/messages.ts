// MessageStore over PostgreSQL: history pages, replies, changed-since, reactions, and the writes an
// edit, delete or reaction makes inside its revision (built on the revision's transaction, so they
// commit with its rev). Read and delivered cursors and unread counts are in message-cursors.ts.
// Rows come back as the SQLite adapter's MessageRecord (message-sql.ts: numbers, attachments JSON
// text), ordered as SQLite orders them (text tie-breaks in byte order).
import { sql, type SQL } from "drizzle-orm";
import type { ConversationHead, CursorRow, MessageRecord, MessageStore, ReactionTally, SeqPage, UnreadRow } from "../../../ports/stores";
import { messageColumnsPg, toMessageRecord } from "../message-sql";
import { listOf, rowsOf, stripNul, type PgHandle } from "./common";
import { PgMessageCursors } from "./message-cursors";
import { changedSince } from "./messages-changed-since";

const COLUMNS = sql.raw(messageColumnsPg("m"));
const RETURNING = sql.raw(messageColumnsPg());

export class PgMessageStore implements MessageStore {
  private readonly cursorStore: PgMessageCursors;

  constructor(private readonly db: PgHandle) {
    this.cursorStore = new PgMessageCursors(db);
  }

  private async records(query: SQL): Promise<MessageRecord[]> {
    return (await rowsOf<Record<string, unknown>>(this.db, query)).map(toMessageRecord);
  }

  private async record(query: SQL): Promise<MessageRecord | null> {
    return (await this.records(query))[0] ?? null;
  }

  /** `where` selects the conversation's or the parent's messages; the latest N are read newest first, then flipped. */
  private async bySeq(where: SQL, page: SeqPage, before = page.before): Promise<MessageRecord[]> {
    if (page.after !== undefined) {
      return this.records(sql`SELECT ${COLUMNS} FROM messages m WHERE ${where} AND m.seq > ${page.after} ORDER BY m.seq ASC LIMIT ${page.limit}`);
    }
    const below = before === undefined ? sql`` : sql`AND m.seq < ${before}`;
    const rows = await this.records(sql`SELECT ${COLUMNS} FROM messages m WHERE ${where} ${below} ORDER BY m.seq DESC LIMIT ${page.limit}`);
    return rows.reverse();
  }

  page(conversationId: string, page: SeqPage): Promise<MessageRecord[]> {
    return this.bySeq(sql`m.conversation_id = ${stripNul(conversationId)}`, page);
  }

  /** By seq on the index messages_reply_to (reply_to_id, seq). */
  replies(parentId: string, page: SeqPage): Promise<MessageRecord[]> {
    return this.bySeq(sql`m.reply_to_id = ${stripNul(parentId)}`, page, page.before ?? Number.MAX_SAFE_INTEGER);
  }

  byId(id: string): Promise<MessageRecord | null> {
    return this.record(sql`SELECT ${COLUMNS} FROM messages m WHERE m.id = ${stripNul(id)}`);
  }

  async byIds(ids: string[]): Promise<MessageRecord[]> {
    if (ids.length === 0) return [];
    return this.records(sql`SELECT ${COLUMNS} FROM messages m WHERE m.id IN (${listOf(stripNul(ids))})`);
  }

  async replyTarget(id: string): Promise<{ conversationId: string; deleted: boolean } | null> {
    const [row] = await rowsOf<{ conversation_id: string; deleted: boolean }>(
      this.db,
      sql`SELECT conversation_id, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = ${stripNul(id)}`,
    );
    return row ? { conversationId: row.conversation_id, deleted: row.deleted } : null;
  }

  changedSince(conversationId: string, sinceRev: number, limit: number): Promise<MessageRecord[]> {
    return changedSince(this.db, conversationId, sinceRev, limit);
  }

  /**
   * One query for a whole page (the primary key starts with message_id), grouped in the server:
   * emoji by their first reaction, users by when they reacted; ties in byte order, as SQLite's BINARY.
   */
  async reactions(messageIds: string[]): Promise<Map<string, ReactionTally[]>> {
    const byMessage = new Map<string, ReactionTally[]>();
    if (messageIds.length === 0) return byMessage;
    const rows = await rowsOf<{ message_id: string; emoji: string; user_ids: string[] }>(
      this.db,
      sql`SELECT message_id, emoji, array_agg(user_id ORDER BY created_at, user_id COLLATE "C") AS user_ids
          FROM reactions WHERE message_id IN (${listOf(stripNul(messageIds))})
          GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji COLLATE "C"`,
    );
    for (const { message_id, emoji, user_ids } of rows) {
      const tallies = byMessage.get(message_id) ?? [];
      if (tallies.length === 0) byMessage.set(message_id, tallies);
      tallies.push({ emoji, userIds: user_ids });
    }
    return byMessage;
  }

  head(conversationId: string): Promise<ConversationHead | null> {
    return this.cursorStore.head(conversationId);
  }

  readCursors(conversationId: string, userId: string): Promise<{ mine: number; othersMin: number } | null> {
    return this.cursorStore.readCursors(conversationId, userId);
  }

  unread(userId: string, at: number, onlyIds?: string[]): Promise<UnreadRow[]> {
    return this.cursorStore.unread(userId, at, onlyIds);
  }

  membersByUsernameKey(conversationId: string, keys: string[]): Promise<{ id: string; key: string }[]> {
    return this.cursorStore.membersByUsernameKey(conversationId, keys);
  }

  markRead(conversationId: string, userId: string, seq: number, at: number) {
    return this.cursorStore.markRead(conversationId, userId, seq, at);
  }

  markDelivered<T extends { conversationId: string; userId: string; seq: number }>(batch: T[]): Promise<T[]> {
    return this.cursorStore.markDelivered(batch);
  }

  cursors(conversationId: string): Promise<CursorRow[]> {
    return this.cursorStore.cursors(conversationId);
  }

  /** Content loses U+0000 as in the group commit (message-commit.ts): what is stored is what every read returns. */
  edit(messageId: string, content: string, mentions: string | null, rev: number, at: number): Promise<MessageRecord | null> {
    return this.record(sql`
      UPDATE messages SET content = ${stripNul(content)}, mentions = ${stripNul(mentions)}, edited_at = ${at}, rev = ${rev}, updated_at = ${at}
      WHERE id = ${stripNul(messageId)} AND deleted_at IS NULL RETURNING ${RETURNING}`);
  }

  async tombstone(messageId: string, rev: number, at: number): Promise<MessageRecord | null> {
    const id = stripNul(messageId);
    const record = await this.record(sql`
      UPDATE messages SET content = '', mentions = NULL, deleted_at = ${at}, rev = ${rev}, updated_at = ${at}
      WHERE id = ${id} AND deleted_at IS NULL RETURNING ${RETURNING}`);
    if (record) await this.db.execute(sql`DELETE FROM reactions WHERE message_id = ${id}`);
    return record;
  }

  touch(messageId: string, rev: number, at: number): Promise<MessageRecord | null> {
    return this.record(sql`UPDATE messages SET rev = ${rev}, updated_at = ${at} WHERE id = ${stripNul(messageId)} AND deleted_at IS NULL RETURNING ${RETURNING}`);
  }

  /**
   * The count and the insert are two statements: inside a revision the conversation's row lock
   * (revise's UPDATE) already serializes every reaction write to its messages.
   */
  async addReaction(messageId: string, userId: string, emoji: string, at: number, maxDistinct: number): Promise<"added" | "exists" | "full"> {
    const [id, user, e] = [stripNul(messageId), stripNul(userId), stripNul(emoji)];
    const [distinct] = await rowsOf<{ n: number | string; mine: boolean }>(
      this.db,
      sql`SELECT count(DISTINCT emoji) AS n, coalesce(bool_or(emoji = ${e}), false) AS mine FROM reactions WHERE message_id = ${id}`,
    );
    if (!distinct!.mine && Number(distinct!.n) >= maxDistinct) return "full";
    const added = await rowsOf(
      this.db,
      sql`INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (${id}, ${user}, ${e}, ${at}) ON CONFLICT DO NOTHING RETURNING 1`,
    );
    return added.length === 0 ? "exists" : "added";
  }

  async removeReaction(messageId: string, userId: string, emoji: string): Promise<boolean> {
    const removed = await rowsOf(
      this.db,
      sql`DELETE FROM reactions WHERE message_id = ${stripNul(messageId)} AND user_id = ${stripNul(userId)} AND emoji = ${stripNul(emoji)} RETURNING 1`,
    );
    return removed.length > 0;
  }
}
