// The search box's language (words, `hel*` prefixes, "quoted phrases") parsed into terms the
// SearchStore matches (all required); the SQLite store turns them into an FTS5 expression in which
// user text is never syntax (db/stores/search.ts).
import { unprocessable } from "../../errors";
import type { SearchTerm as Term } from "../../ports/stores";

export const MAX_QUERY_LENGTH = 256;
/**
 * Words in the whole query, a phrase counting each of its words. The index is walked newest first,
 * and FTS5 reads a word's whole posting list backwards for that: a phrase or AND of very common
 * words costs ~25-30 ms of CPU per word on a million messages (80 of them took 2.2 s), so at most 8.
 */
export const MAX_WORDS = 8;
/**
 * A prefix of 3+ characters is served by the index's prefix index (prefix='3', migration 0004), so
 * "the*" costs about what a word does; a shorter one would merge the posting lists of every word it
 * starts (`th*` on a million messages: ~140 ms of the event loop's CPU per term).
 */
export const MIN_PREFIX_CHARS = 3;

/** What unicode61 (the index's tokenizer) keeps as word characters: letters, digits, private use. */
const WORD_CHAR = /[\p{L}\p{N}\p{Co}]/u;
/** Its words: runs of those, combining marks included (remove_diacritics folds them away). */
const WORD = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;

function term(text: string, prefix: boolean): Term | null {
  // Nothing the tokenizer would index ("!!!", "-", "*"): no term rather than a phrase matching nothing.
  if (!WORD_CHAR.test(text)) return null;
  // The `*` applies to the last word of the term.
  const last = text.match(WORD)!.at(-1)!;
  if (prefix && [...last].filter((c) => WORD_CHAR.test(c)).length < MIN_PREFIX_CHARS) {
    throw unprocessable("q", `a prefix search needs at least ${MIN_PREFIX_CHARS} letters or digits before *`);
  }
  return { text, prefix };
}

/** Splits the query into terms; throws a 422 naming `q` when nothing searchable is left. */
export function parseQuery(raw: string): Term[] {
  // Control characters (NUL included) are separators; lone surrogates cannot be bound as UTF-8.
  const q = raw.toWellFormed().replace(/\p{Cc}/gu, " ");
  const terms: Term[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    let found: Term | null;
    const close = c === '"' ? q.indexOf('"', i + 1) : -1;
    if (close > i) {
      // A quoted phrase, optionally a prefix as a whole ("hello wor"*).
      const prefix = q[close + 1] === "*";
      found = term(q.slice(i + 1, close), prefix);
      i = close + (prefix ? 2 : 1);
    } else {
      // A word runs to the next space or quote; an unbalanced quote is skipped as punctuation.
      if (c === '"') i++;
      let end = i;
      while (end < q.length && !/\s/.test(q[end]!) && q[end] !== '"') end++;
      const word = q.slice(i, end);
      const stripped = word.replace(/\*+$/, "");
      found = term(stripped, stripped.length < word.length);
      i = end;
    }
    if (found) terms.push(found);
  }
  if (terms.length === 0) throw unprocessable("q", "must contain a word to search for (letters or digits)");
  const words = terms.reduce((n, t) => n + (t.text.match(WORD)?.length ?? 0), 0);
  if (words > MAX_WORDS) throw unprocessable("q", `at most ${MAX_WORDS} words (a phrase counts each of its words)`);
  return terms;
}
