// The search box's terms (modules/search/query.ts parses them) as a PostgreSQL tsquery for the
// generated search_vector column (drizzle-pg/0001). As with FTS5, user text never reaches the
// tsquery parser as syntax: every word becomes a quoted lexeme, a phrase is its words joined by
// <-> (followed by), a trailing * marks the last word as a prefix (:*), and terms are ANDed. Use it
// as `search_vector @@ to_tsquery('chat_search', $1)`, so the words get the column's normalization
// (lower case, diacritics folded when unaccent is installed).
import type { SearchTerm as Term } from "../../ports/stores";

/** The words of a term as the index sees them: runs of letters, digits, private use and marks. */
const WORD = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;

/** A quoted tsquery lexeme: quotes doubled, backslashes escaped, so nothing in it is an operator. */
const lexeme = (word: string) => `'${word.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

export function toTsQueryText(terms: Term[]): string {
  return terms
    .map((t) => {
      const words = (t.text.match(WORD) ?? []).map(lexeme);
      if (words.length && t.prefix) words[words.length - 1] += ":*";
      return `(${words.join(" <-> ")})`;
    })
    .filter((t) => t !== "()")
    .join(" & ");
}
