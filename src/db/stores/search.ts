// SearchStore over SQLite's FTS5 index (migration 0004, kept exact by triggers). Each term becomes a
// double-quoted FTS5 string, so user text never reaches FTS5's parser as syntax: NEAR, OR/AND/NOT,
// parentheses and `column:` filters are literal text; the only operators are the implicit AND and a
// trailing `*`.
import type { SearchHit, SearchStore, SearchTerm } from "../../ports/stores";
import { SearchRefused } from "../../ports/stores";
import { markersFor, MATCH_CLOSE, MATCH_OPEN } from "../../ports/search-markers";
import type { Db } from "../client";

/** Each term as an FTS5 string ("" escapes a quote inside it), all of them required. */
export const toFtsExpression = (terms: SearchTerm[]) =>
  terms.map((t) => `"${t.text.replaceAll('"', '""')}"${t.prefix ? "*" : ""}`).join(" AND ");

/**
 * Newest first is the index's rowid order, descending: the messages' rowids grow with each insert,
 * and FTS5 walks its doclists in rowid order without sorting. The CROSS JOINs pin that plan: the
 * index drives, each hit joins its message by rowid and the caller's membership by primary key,
 * and the LIMIT stops the walk.
 */
const searchSql = (inConversation: boolean) => `
  SELECT f.rowid AS position, m.id AS messageId, m.content AS content, highlight(messages_fts, 0, ?1, ?2) AS marked
  FROM messages_fts f
  CROSS JOIN messages m ON m.rowid = f.rowid
  CROSS JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?3
  WHERE messages_fts MATCH ?4 AND f.rowid < ?5 AND m.deleted_at IS NULL ${inConversation ? "AND m.conversation_id = ?7" : ""}
  ORDER BY f.rowid DESC LIMIT ?6`;


interface Row {
  position: number;
  messageId: string;
  content: string;
  marked: string;
}

export class SqliteSearchStore implements SearchStore {
  constructor(private readonly db: Db) {}

  hits(userId: string, terms: SearchTerm[], page: { before: number; limit: number; conversationId?: string }) {
    const client = this.db.$client;
    const expression = toFtsExpression(terms);
    const args: (string | number)[] = [MATCH_OPEN, MATCH_CLOSE, userId, expression, page.before, page.limit + 1];
    if (page.conversationId !== undefined) args.push(page.conversationId);
    let rows: Row[];
    try {
      rows = client.query<Row, (string | number)[]>(searchSql(page.conversationId !== undefined)).all(...args);
    } catch (error) {
      if (error instanceof Error && /fts5/i.test(error.message)) throw new SearchRefused(error.message);
      throw error;
    }
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const hits: SearchHit[] = rows.map(({ position, messageId, content, marked }) => {
      if (!content.includes(MATCH_OPEN) && !content.includes(MATCH_CLOSE)) return { position, messageId, marked: { text: marked, open: MATCH_OPEN, close: MATCH_CLOSE } };
      const [open, close] = markersFor(content);
      const again = client
        .query<{ marked: string }, [string, string, string, number]>(
          "SELECT highlight(messages_fts, 0, ?1, ?2) AS marked FROM messages_fts WHERE messages_fts MATCH ?3 AND rowid = ?4",
        )
        .get(open, close, expression, position)!;
      return { position, messageId, marked: { text: again.marked, open, close } };
    });
    return { hits, more };
  }
}
