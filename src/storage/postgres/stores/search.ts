// SearchStore over PostgreSQL: the generated search_vector column and its GIN index (drizzle-pg/0001),
// queried with the terms as a tsquery (../search.ts quotes every word, so user text is never
// tsquery syntax). A hit's position is messages.search_position, an identity taken at insert
// (drizzle-pg/0003): the insertion order SQLite's rowid gives, so newest first and stable paging.
import { sql } from "drizzle-orm";
import type { SearchHit, SearchStore, SearchTerm } from "../../../ports/stores";
import { SearchRefused } from "../../../ports/stores";
import { joinPhraseMarks, toTsQueryText } from "../search";
import { markersFor, MATCH_CLOSE, MATCH_OPEN } from "../../../ports/search-markers";
import { rowsOf, type PgHandle } from "./common";

/** The whole content with every match marked (HighlightAll: no fragments, nothing cut). */
const headlineOptions = (open: string, close: string) => `HighlightAll=true, StartSel="${open}", StopSel="${close}"`;

interface Row {
  position: string | number;
  messageId: string;
  content: string;
  marked: string;
}

/** Is this the engine refusing the expression (a tsquery syntax error) rather than a failure? */
function refusal(error: unknown): string | null {
  for (let e = error as { errno?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.errno === "42601" || /tsquery/i.test(e.message ?? "")) return e.message ?? "tsquery refused";
  }
  return null;
}

export class PgSearchStore implements SearchStore {
  constructor(private readonly db: PgHandle) {}

  async hits(userId: string, terms: SearchTerm[], page: { before: number; limit: number; conversationId?: string }) {
    const query = toTsQueryText(terms);
    // No word in any term (punctuation only): FTS5 matches nothing for it either.
    if (query === "") return { hits: [], more: false };
    const inConversation = page.conversationId === undefined ? sql`` : sql`AND m.conversation_id = ${page.conversationId}`;
    // The page first, then the headlines of its rows only.
    const statement = sql`
      SELECT p.position, p.id AS "messageId", p.content,
             ts_headline('chat_search', p.content, to_tsquery('chat_search', ${query}), ${headlineOptions(MATCH_OPEN, MATCH_CLOSE)}) AS marked
      FROM (
        SELECT m.search_position AS position, m.id, m.content
        FROM messages m JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ${userId}
        WHERE m.search_vector @@ to_tsquery('chat_search', ${query}) AND m.search_position < ${page.before}
          AND m.deleted_at IS NULL ${inConversation}
        ORDER BY m.search_position DESC LIMIT ${page.limit + 1}
      ) p ORDER BY p.position DESC`;
    let rows: Row[];
    try {
      rows = await rowsOf<Row>(this.db, statement);
    } catch (error) {
      const refused = refusal(error);
      if (refused) throw new SearchRefused(refused);
      throw error;
    }
    const more = rows.length > page.limit;
    if (more) rows.pop();
    const hits: SearchHit[] = [];
    for (const { position, messageId, content, marked } of rows) {
      if (!content.includes(MATCH_OPEN) && !content.includes(MATCH_CLOSE)) {
        hits.push({ position: Number(position), messageId, marked: { text: joinPhraseMarks(marked, MATCH_OPEN, MATCH_CLOSE, terms), open: MATCH_OPEN, close: MATCH_CLOSE } });
        continue;
      }
      const [open, close] = markersFor(content);
      const [again] = await rowsOf<{ marked: string }>(
        this.db,
        sql`SELECT ts_headline('chat_search', ${content}, to_tsquery('chat_search', ${query}), ${headlineOptions(open, close)}) AS marked`,
      );
      hits.push({ position: Number(position), messageId, marked: { text: joinPhraseMarks(again!.marked, open, close, terms), open, close } });
    }
    return { hits, more };
  }
}
