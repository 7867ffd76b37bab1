// The member side of the MessageStore on PostgreSQL: the conversation's head with every read
// cursor (what the conversation-state cache loads), read and delivered cursors that only move
// forward, unread counts and the mention lookup. Same answers as db/stores/messages.ts.
import { sql } from "drizzle-orm";
import type { ConversationHead, CursorRow, UnreadRow } from "../../../ports/stores";
import { listOf, num, rowsOf, stripNul, type PgHandle } from "./common";

type Moving = { conversationId: string; userId: string; seq: number };

/** Splits a batch into rounds in which each member appears once, keeping each member's order. */
function rounds<T extends Moving>(batch: T[]): { entry: T; index: number }[][] {
  const seen = new Map<string, number>();
  const out: { entry: T; index: number }[][] = [];
  batch.forEach((entry, index) => {
    const key = JSON.stringify([entry.conversationId, entry.userId]);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (out[round] ??= []).push({ entry, index });
  });
  return out;
}

export class PgMessageCursors {
  constructor(private readonly db: PgHandle) {}

  async head(conversationId: string): Promise<ConversationHead | null> {
    const rows = await rowsOf<{ is_group: boolean; last_seq: number; rev: number; user_id: string; last_read_seq: number }>(
      this.db,
      sql`SELECT c.is_group, c.last_seq, c.rev, mb.user_id, mb.last_read_seq
          FROM conversations c JOIN members mb ON mb.conversation_id = c.id WHERE c.id = ${stripNul(conversationId)}`,
    );
    if (rows.length === 0) return null;
    return {
      isGroup: rows[0]!.is_group,
      lastSeq: rows[0]!.last_seq,
      rev: rows[0]!.rev,
      cursors: new Map(rows.map((r) => [r.user_id, r.last_read_seq])),
    };
  }

  async readCursors(conversationId: string, userId: string): Promise<{ mine: number; othersMin: number } | null> {
    const [c, u] = [stripNul(conversationId), stripNul(userId)];
    const [row] = await rowsOf<{ mine: number | null; others_min: number | null }>(
      this.db,
      sql`SELECT (SELECT last_read_seq FROM members WHERE conversation_id = ${c} AND user_id = ${u}) AS mine,
                 (SELECT min(last_read_seq) FROM members WHERE conversation_id = ${c} AND user_id <> ${u}) AS others_min`,
    );
    if (!row || row.mine === null) return null;
    // With no other member (a group of one), your own messages count as read.
    return { mine: row.mine, othersMin: row.others_min ?? Number.MAX_SAFE_INTEGER };
  }

  /**
   * Per membership, a count over its unread range of messages_conversation_seq (a LATERAL subquery,
   * so each range is an index scan from the member's cursor; a plain join leaves the planner
   * guessing how many rows `seq > last_read_seq` keeps, and it reads every message of the user's
   * conversations). Mentions by a substring check on the row already read.
   */
  async unread(userId: string, at: number, onlyIds?: string[]): Promise<UnreadRow[]> {
    if (onlyIds && onlyIds.length === 0) return [];
    const u = stripNul(userId);
    const only = onlyIds ? sql`AND mb.conversation_id IN (${listOf(stripNul(onlyIds))})` : sql``;
    const rows = await rowsOf<{ conversation_id: string; unread_count: string | number; mention_count: string | number; muted: boolean }>(
      this.db,
      sql`SELECT mb.conversation_id, n.unread_count, n.mention_count, mb.muted AND (mb.muted_until IS NULL OR mb.muted_until > ${at}) AS muted
          FROM members mb CROSS JOIN LATERAL (
            SELECT count(*) AS unread_count, count(*) FILTER (WHERE strpos(m.mentions, ${u}) > 0) AS mention_count
            FROM messages m WHERE m.conversation_id = mb.conversation_id AND m.seq > mb.last_read_seq AND m.sender_id <> ${u} AND m.deleted_at IS NULL
          ) n
          WHERE mb.user_id = ${u} AND n.unread_count > 0 ${only} ORDER BY mb.conversation_id COLLATE "C"`,
    );
    return rows.map((r) => ({ conversation_id: r.conversation_id, unread_count: Number(r.unread_count), mention_count: Number(r.mention_count), muted: r.muted }));
  }

  async membersByUsernameKey(conversationId: string, keys: string[]): Promise<{ id: string; key: string }[]> {
    if (keys.length === 0) return [];
    return rowsOf<{ id: string; key: string }>(
      this.db,
      sql`SELECT u.id, u.username_key AS key FROM users u JOIN members mb ON mb.user_id = u.id AND mb.conversation_id = ${stripNul(conversationId)}
          WHERE u.username_key IN (${listOf(stripNul(keys))})`,
    );
  }

  /** One statement: the update when it moved the cursor, else the cursor as stored (no row: not a member). */
  async markRead(conversationId: string, userId: string, seq: number, at: number) {
    const [c, u] = [stripNul(conversationId), stripNul(userId)];
    const [row] = await rowsOf<{ last_read_seq: number; last_read_at: string | number | null; moved: boolean }>(
      this.db,
      // Reading implies delivery: the delivered cursor never stays below the read one.
      sql`WITH moved AS (
            UPDATE members SET last_read_seq = ${seq}, last_read_at = ${at}, last_delivered_seq = greatest(last_delivered_seq, ${seq})
            WHERE conversation_id = ${c} AND user_id = ${u} AND last_read_seq < ${seq} RETURNING last_read_seq, last_read_at)
          SELECT last_read_seq, last_read_at, true AS moved FROM moved
          UNION ALL
          SELECT last_read_seq, last_read_at, false FROM members
          WHERE conversation_id = ${c} AND user_id = ${u} AND NOT EXISTS (SELECT 1 FROM moved)`,
    );
    if (!row) return null;
    return { lastReadSeq: row.last_read_seq, lastReadAt: num(row.last_read_at), moved: row.moved };
  }

  /**
   * One transaction, one UPDATE per round: a member named twice in a batch moves in batch order,
   * as if each entry were applied alone (usually a batch is one round).
   */
  async markDelivered<T extends Moving>(batch: T[]): Promise<T[]> {
    if (batch.length === 0) return [];
    const moved = await this.db.transaction(async (tx) => {
      const indexes: number[] = [];
      for (const round of rounds(batch)) {
        const col = <K extends keyof Moving>(k: K) => sql.param(round.map(({ entry }) => stripNul(entry[k])));
        const rows = await rowsOf<{ n: number }>(
          tx as unknown as PgHandle,
          sql`UPDATE members mb SET last_delivered_seq = v.seq
              FROM unnest(${col("conversationId")}::text[], ${col("userId")}::text[], ${col("seq")}::int4[], ${sql.param(round.map((r) => r.index))}::int4[]) AS v(c, u, seq, n)
              WHERE mb.conversation_id = v.c AND mb.user_id = v.u AND mb.last_delivered_seq < v.seq RETURNING v.n`,
        );
        indexes.push(...rows.map((r) => r.n));
      }
      return indexes;
    });
    return moved.sort((a, b) => a - b).map((n) => batch[n]!);
  }

  async cursors(conversationId: string): Promise<CursorRow[]> {
    return rowsOf<CursorRow>(
      this.db,
      sql`SELECT user_id, last_read_seq, greatest(last_delivered_seq, last_read_seq) AS last_delivered_seq
          FROM members WHERE conversation_id = ${stripNul(conversationId)} ORDER BY joined_at, user_id COLLATE "C"`,
    );
  }
}
