// Full-text search over the messages of the caller's conversations, on the FTS5 index that
// migration 0004 builds and its triggers keep exact. Membership is a join inside the query, so a
// page never holds, counts or skips over a message the caller may not see.
import type { Db } from "../../db/client";
import { notFound, unprocessable } from "../../errors";
import { conversationStates } from "../messages/conversation-state";
import { loadReactions } from "../messages/reaction-tallies";
import { isReadFor, MESSAGE_COLUMNS, toMessageView, type MessageRecord } from "../messages/service";
import type { SearchPage, SearchResult } from "./model";
import { parseQuery, toFtsExpression } from "./query";

export interface SearchOptions {
  q: string;
  conversationId?: string;
  limit: number;
  before?: string;
}

// highlight()'s markers: private-use characters, which no tokenizer output or escape produces.
// A message that itself holds one gets its highlight again with markers it does not contain.
const OPEN = "\uE000";
const CLOSE = "\uE001";

interface Hit {
  hit: number;
  marked: string;
}

/**
 * Newest first is the index's rowid order, descending: the messages' rowids grow with each insert
 * (no AUTOINCREMENT gaps matter), and FTS5 walks its doclists in rowid order without sorting. The
 * CROSS JOINs pin that plan: the index drives, each hit joins its message by rowid and the
 * caller's membership by primary key, and the LIMIT stops the walk.
 */
const searchSql = (inConversation: boolean) => `
  SELECT f.rowid AS hit, highlight(messages_fts, 0, ?1, ?2) AS marked
  FROM messages_fts f
  CROSS JOIN messages m ON m.rowid = f.rowid
  CROSS JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?3
  WHERE messages_fts MATCH ?4 AND f.rowid < ?5 AND m.deleted_at IS NULL ${inConversation ? "AND m.conversation_id = ?7" : ""}
  ORDER BY f.rowid DESC LIMIT ?6`;

/** The cursor is the last result's rowid in base 36: opaque to clients, stable across writes. */
export const encodeCursor = (rowid: number) => rowid.toString(36);
function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return Number.MAX_SAFE_INTEGER;
  const rowid = parseInt(cursor, 36);
  if (!Number.isSafeInteger(rowid) || rowid < 1) throw unprocessable("before", "not a cursor from next_before");
  return rowid;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Escapes everything, then turns the markers (never touched by escaping) into tags. */
function toHighlight(marked: string, open: string, close: string): string {
  return escapeHtml(marked).replaceAll(open, "<mark>").replaceAll(close, "</mark>");
}

/** Two private-use characters absent from the text (4,000 characters cannot hold all 6,400). */
function markersFor(content: string): [string, string] {
  const free: string[] = [];
  for (let c = 0xe002; free.length < 2; c++) {
    const ch = String.fromCharCode(c);
    if (!content.includes(ch)) free.push(ch);
  }
  return [free[0]!, free[1]!];
}

/** The highlight of one hit; again with other markers when the message holds ours (see OPEN). */
function highlightOf(client: Db["$client"], expression: string, hit: number, content: string, marked: string): string {
  if (!content.includes(OPEN) && !content.includes(CLOSE)) return toHighlight(marked, OPEN, CLOSE);
  const [open, close] = markersFor(content);
  const again = client
    .query<{ marked: string }, [string, string, string, number]>(
      "SELECT highlight(messages_fts, 0, ?1, ?2) AS marked FROM messages_fts WHERE messages_fts MATCH ?3 AND rowid = ?4",
    )
    .get(open, close, expression, hit)!;
  return toHighlight(again.marked, open, close);
}

/**
 * Our expressions are always valid FTS5; should one ever not be (a tokenizer or SQLite upgrade),
 * the client hears a 422 about its query, not a 500.
 */
function runSearch<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof Error && /fts5/i.test(error.message)) throw unprocessable("q", "cannot be searched as written");
    throw error;
  }
}

export function searchMessages(db: Db, userId: string, options: SearchOptions): SearchPage {
  const expression = toFtsExpression(parseQuery(options.q));
  const before = decodeCursor(options.before);
  const states = conversationStates(db);
  if (options.conversationId !== undefined && !states.readState(options.conversationId, userId)) throw notFound("Conversation");
  const client = db.$client;
  // One read transaction: the hits, their highlights and the messages come from the same snapshot.
  return client.transaction((): SearchPage => {
    const args: (string | number)[] = [OPEN, CLOSE, userId, expression, before, options.limit + 1];
    if (options.conversationId !== undefined) args.push(options.conversationId);
    const hits = runSearch(() => client.query<Hit, (string | number)[]>(searchSql(options.conversationId !== undefined)).all(...args));
    const more = hits.length > options.limit;
    if (more) hits.pop();
    const records = new Map<number, MessageRecord & { hit: number }>();
    if (hits.length) {
      const rows = client
        .query<MessageRecord & { hit: number }, number[]>(
          `SELECT ${MESSAGE_COLUMNS}, rowid AS hit FROM messages WHERE rowid IN (${hits.map(() => "?").join(",")})`,
        )
        .all(...hits.map((h) => h.hit));
      for (const row of rows) records.set(row.hit, row);
    }
    const results: SearchResult[] = [];
    const reactions = loadReactions(client, [...records.values()].map((r) => r.id));
    for (const { hit, marked } of hits) {
      const { hit: _, ...record } = records.get(hit)!;
      const state = states.readState(record.conversation_id, userId);
      // Membership was joined in the query; is_read comes from the in-memory cursors, which may not yet
      // know of a membership that changed this instant: leave the row out rather than guess.
      if (!state) continue;
      const highlight = highlightOf(client, expression, hit, record.content, marked);
      results.push({ message: toMessageView(record, isReadFor(record, userId, state), reactions.get(record.id), userId), highlight });
    }
    return { results, next_before: more && hits.length ? encodeCursor(hits.at(-1)!.hit) : null };
  })();
}
