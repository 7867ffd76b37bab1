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

const fold = (word: string) => word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
const HAS_WORD = /[\p{L}\p{N}\p{Co}\p{M}]/u;

/**
 * ts_headline marks each matched word alone; FTS5 marks a phrase's words as one span ("<quick
 * brown>"). Joins two marks separated only by spaces or punctuation when their words follow each
 * other in one of the quoted phrases, so both engines highlight alike.
 */
export function joinPhraseMarks(marked: string, open: string, close: string, terms: Term[]): string {
  const pairs = new Set<string>();
  for (const t of terms) {
    const words = (t.text.match(WORD) ?? []).map(fold);
    for (let i = 0; i + 1 < words.length; i++) pairs.add(`${words[i]} ${words[i + 1]}`);
  }
  if (pairs.size === 0) return marked;
  // Alternating unmarked / marked pieces: "a <b> c <d> e" → ["a ", "b", " c ", "d", " e"].
  const pieces: string[] = [];
  let rest = marked;
  for (let at = rest.indexOf(open); at >= 0; at = rest.indexOf(open)) {
    const end = rest.indexOf(close, at + open.length);
    if (end < 0) break;
    pieces.push(rest.slice(0, at), rest.slice(at + open.length, end));
    rest = rest.slice(end + close.length);
  }
  pieces.push(rest);
  let out = pieces[0]!;
  for (let i = 1; i < pieces.length; i += 2) {
    let span = pieces[i]!;
    // Absorb the next mark while only a separator lies between and the two words are consecutive in a phrase.
    while (i + 2 < pieces.length && !HAS_WORD.test(pieces[i + 1]!)) {
      const last = span.match(WORD)?.at(-1);
      const next = pieces[i + 2]!.match(WORD)?.[0];
      if (!last || !next || !pairs.has(`${fold(last)} ${fold(next)}`)) break;
      span += pieces[i + 1]! + pieces[i + 2]!;
      i += 2;
    }
    out += open + span + close + pieces[i + 1]!;
  }
  return out;
}
