// MessageStore over SQLite: history pages, replies, changed-since, reactions, read and delivered
// cursors, unread ranges, and the writes an edit, delete or reaction makes inside its revision.
// Every method returns its value (no promise): the send path and cached page reads stay synchronous.
// Statements are prepared once here; bun:sqlite caches the ones whose SQL varies (IN lists).
import type { Database, Statement } from "bun:sqlite";
import type {
  ConversationHead,
  CursorRow,
  MessageRecord,
  MessageStore,
  ReactionTally,
  SeqPage,
  UnreadRow,
} from "../../ports/stores";
import type { Db } from "../client";
import { MESSAGE_COLUMNS } from "../message-sql";
import { createChangedSince, type ChangedSince } from "./messages-changed-since";

const marks = (ids: unknown[]) => ids.map(() => "?").join(",");

type Rows = Statement<MessageRecord, [string, number, number]>;

export class SqliteMessageStore implements MessageStore {
  private readonly client: Database;
  private readonly after: Rows;
  private readonly before: Rows;
  private readonly latest: Statement<MessageRecord, [string, number]>;
  private readonly repliesAfter: Rows;
  private readonly repliesBefore: Rows;
  private readonly one: Statement<MessageRecord, [string]>;
  private readonly target: Statement<{ conversation_id: string; deleted_at: number | null }, [string]>;
  private readonly changed: ChangedSince;
  private readonly headRows: Statement<{ is_group: number; last_seq: number; rev: number; user_id: string; last_read_seq: number }, [string]>;
  private readonly readRows: Statement<{ mine: number | null; others_min: number | null }, [string, string, string]>;
  private readonly moveDelivered: Statement<{ last_delivered_seq: number }, [number, string, string, number]>;

  constructor(db: Db) {
    const q = (this.client = db.$client);
    const select = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE`;
    this.after = q.query(`${select} conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`);
    // Latest N (or the N before a seq): read newest-first through the index, then flipped.
    this.before = q.query(`${select} conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`);
    this.latest = q.query(`${select} conversation_id = ? ORDER BY seq DESC LIMIT ?`);
    // Replies page by seq too (index messages_reply_to).
    this.repliesAfter = q.query(`${select} reply_to_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`);
    this.repliesBefore = q.query(`${select} reply_to_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`);
    this.one = q.query(`${select} id = ?`);
    this.target = q.query("SELECT conversation_id, deleted_at FROM messages WHERE id = ?");
    this.changed = createChangedSince(q);
    this.headRows = q.query(
      `SELECT c.is_group AS is_group, c.last_seq AS last_seq, c.rev AS rev, mb.user_id AS user_id, mb.last_read_seq AS last_read_seq
       FROM conversations c JOIN members mb ON mb.conversation_id = c.id WHERE c.id = ?`,
    );
    this.readRows = q.query(
      `SELECT (SELECT last_read_seq FROM members WHERE conversation_id = ?1 AND user_id = ?2) AS mine,
              (SELECT min(last_read_seq) FROM members WHERE conversation_id = ?1 AND user_id != ?3) AS others_min`,
    );
    this.moveDelivered = q.query(
      `UPDATE members SET last_delivered_seq = ? WHERE conversation_id = ? AND user_id = ? AND last_delivered_seq < ?
       RETURNING last_delivered_seq`,
    );
  }

  page(conversationId: string, page: SeqPage): MessageRecord[] {
    if (page.after !== undefined) return this.after.all(conversationId, page.after, page.limit);
    const rows =
      page.before !== undefined ? this.before.all(conversationId, page.before, page.limit) : this.latest.all(conversationId, page.limit);
    return rows.reverse();
  }

  replies(parentId: string, page: SeqPage): MessageRecord[] {
    if (page.after !== undefined) return this.repliesAfter.all(parentId, page.after, page.limit);
    return this.repliesBefore.all(parentId, page.before ?? Number.MAX_SAFE_INTEGER, page.limit).reverse();
  }

  byId(id: string): MessageRecord | null {
    return this.one.get(id);
  }

  byIds(ids: string[]): MessageRecord[] {
    if (ids.length === 0) return [];
    return this.client.query<MessageRecord, string[]>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id IN (${marks(ids)})`).all(...ids);
  }

  replyTarget(id: string) {
    const row = this.target.get(id);
    return row && { conversationId: row.conversation_id, deleted: row.deleted_at !== null };
  }

  changedSince(conversationId: string, sinceRev: number, limit: number): MessageRecord[] {
    return this.changed(conversationId, sinceRev, limit);
  }

  /** One query for a whole page (the primary key starts with message_id). */
  reactions(messageIds: string[]): Map<string, ReactionTally[]> {
    const byMessage = new Map<string, ReactionTally[]>();
    if (messageIds.length === 0) return byMessage;
    const rows = this.client
      .query<{ message_id: string; emoji: string; user_id: string }, string[]>(
        `SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN (${marks(messageIds)})
         ORDER BY message_id, created_at, emoji, user_id`,
      )
      .all(...messageIds);
    for (const row of rows) {
      let tallies = byMessage.get(row.message_id);
      if (!tallies) byMessage.set(row.message_id, (tallies = []));
      let tally = tallies.find((t) => t.emoji === row.emoji);
      if (!tally) tallies.push((tally = { emoji: row.emoji, userIds: [] }));
      tally.userIds.push(row.user_id);
    }
    return byMessage;
  }

  head(conversationId: string): ConversationHead | null {
    const rows = this.headRows.all(conversationId);
    if (rows.length === 0) return null;
    return {
      isGroup: Boolean(rows[0]!.is_group),
      lastSeq: rows[0]!.last_seq,
      rev: rows[0]!.rev,
      cursors: new Map(rows.map((r) => [r.user_id, r.last_read_seq])),
    };
  }

  readCursors(conversationId: string, userId: string) {
    const row = this.readRows.get(conversationId, userId, userId);
    if (!row || row.mine === null) return null;
    // With no other member (a group of one), your own messages count as read.
    return { mine: row.mine, othersMin: row.others_min ?? Number.MAX_SAFE_INTEGER };
  }

  /** One pass over the unread ranges (messages_conversation_seq); mentions by a substring check on the row already read. */
  unread(userId: string, at: number, onlyIds?: string[]): UnreadRow[] {
    if (onlyIds && onlyIds.length === 0) return [];
    const filter = onlyIds ? `AND mb.conversation_id IN (${marks(onlyIds)})` : "";
    const rows = this.client
      .query<Omit<UnreadRow, "muted"> & { muted: number }, (string | number)[]>(
        `SELECT m.conversation_id AS conversation_id, count(*) AS unread_count,
                coalesce(sum(instr(m.mentions, ?1) > 0), 0) AS mention_count,
                mb.muted AND (mb.muted_until IS NULL OR mb.muted_until > ?2) AS muted
         FROM members mb JOIN messages m ON m.conversation_id = mb.conversation_id AND m.seq > mb.last_read_seq
         WHERE mb.user_id = ?1 AND m.sender_id != ?1 AND m.deleted_at IS NULL ${filter}
         GROUP BY m.conversation_id ORDER BY m.conversation_id`,
      )
      .all(userId, at, ...(onlyIds ?? []));
    return rows.map((r) => ({ ...r, muted: Boolean(r.muted) }));
  }

  membersByUsernameKey(conversationId: string, keys: string[]) {
    if (keys.length === 0) return [];
    return this.client
      .query<{ id: string; key: string }, string[]>(
        `SELECT u.id AS id, u.username_key AS key FROM users u JOIN members mb ON mb.user_id = u.id AND mb.conversation_id = ?
         WHERE u.username_key IN (${marks(keys)})`,
      )
      .all(conversationId, ...keys);
  }

  markRead(conversationId: string, userId: string, seq: number, at: number) {
    const moved = this.client
      .query<{ last_read_seq: number }, [number, number, number, string, string, number]>(
        // Reading implies delivery: the delivered cursor never stays below the read one.
        `UPDATE members SET last_read_seq = ?, last_read_at = ?, last_delivered_seq = max(last_delivered_seq, ?)
         WHERE conversation_id = ? AND user_id = ? AND last_read_seq < ? RETURNING last_read_seq`,
      )
      .get(seq, at, seq, conversationId, userId, seq);
    const current = this.client
      .query<{ last_read_seq: number; last_read_at: number | null }, [string, string]>(
        "SELECT last_read_seq, last_read_at FROM members WHERE conversation_id = ? AND user_id = ?",
      )
      .get(conversationId, userId);
    if (!current) return null;
    return { lastReadSeq: current.last_read_seq, lastReadAt: current.last_read_at, moved: moved !== null };
  }

  markDelivered<T extends { conversationId: string; userId: string; seq: number }>(batch: T[]): T[] {
    return this.client
      .transaction(() => batch.filter((p) => this.moveDelivered.get(p.seq, p.conversationId, p.userId, p.seq) !== null))
      .immediate();
  }

  cursors(conversationId: string): CursorRow[] {
    return this.client
      .query<CursorRow, [string]>(
        `SELECT user_id, last_read_seq, max(last_delivered_seq, last_read_seq) AS last_delivered_seq
         FROM members WHERE conversation_id = ? ORDER BY joined_at, user_id`,
      )
      .all(conversationId);
  }

  edit(messageId: string, content: string, mentions: string | null, rev: number, at: number): MessageRecord | null {
    return this.client
      .query<MessageRecord, [string, string | null, number, number, number, string]>(
        `UPDATE messages SET content = ?, mentions = ?, edited_at = ?, rev = ?, updated_at = ?
         WHERE id = ? AND deleted_at IS NULL RETURNING ${MESSAGE_COLUMNS}`,
      )
      .get(content, mentions, at, rev, at, messageId);
  }

  tombstone(messageId: string, rev: number, at: number): MessageRecord | null {
    const record = this.client
      .query<MessageRecord, [number, number, number, string]>(
        `UPDATE messages SET content = '', mentions = NULL, deleted_at = ?, rev = ?, updated_at = ?
         WHERE id = ? AND deleted_at IS NULL RETURNING ${MESSAGE_COLUMNS}`,
      )
      .get(at, rev, at, messageId);
    if (record) this.client.query<null, [string]>("DELETE FROM reactions WHERE message_id = ?").run(messageId);
    return record;
  }

  touch(messageId: string, rev: number, at: number): MessageRecord | null {
    return this.client
      .query<MessageRecord, [number, number, string]>(
        `UPDATE messages SET rev = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING ${MESSAGE_COLUMNS}`,
      )
      .get(rev, at, messageId);
  }

  addReaction(messageId: string, userId: string, emoji: string, at: number, maxDistinct: number): "added" | "exists" | "full" {
    const distinct = this.client
      .query<{ n: number; mine: number }, [string, string]>(
        "SELECT count(DISTINCT emoji) AS n, coalesce(max(emoji = ?), 0) AS mine FROM reactions WHERE message_id = ?",
      )
      .get(emoji, messageId)!;
    if (!distinct.mine && distinct.n >= maxDistinct) return "full";
    const added = this.client
      .query("INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)")
      .run(messageId, userId, emoji, at);
    return added.changes === 0 ? "exists" : "added";
  }

  removeReaction(messageId: string, userId: string, emoji: string): boolean {
    return this.client.query("DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?").run(messageId, userId, emoji).changes > 0;
  }
}
