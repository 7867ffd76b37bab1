// Search schemas: the query string and the page of results.
import { t, type Static } from "elysia";
import { MessageView } from "../messages/model";
import { Limit, UuidInput } from "../shared-model";
import { MAX_QUERY_LENGTH, MAX_WORDS, MIN_PREFIX_CHARS } from "./query";

export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 100;

export const QUERY_SYNTAX =
  "Words are all required (AND), in any order; `hel*` matches words starting with hel " +
  `(at least ${MIN_PREFIX_CHARS} letters before the *); "quoted words" must appear together in that order ` +
  '("hello wor"* makes the last one a prefix). Case and accents are ignored (cafe finds Café). Everything ' +
  "else is literal text: OR, NOT, NEAR, parentheses, -, ^ and column: have no special meaning, and punctuation " +
  `only separates words. At most ${MAX_QUERY_LENGTH} characters and ${MAX_WORDS} words (phrases included); a query ` +
  "with no letter or digit is a 422. A word is a run of letters and digits, so text without spaces " +
  "(Chinese, Japanese) is found by its whole run or a prefix of it.";

export const SearchQuery = t.Object({
  q: t.String({ minLength: 1, maxLength: MAX_QUERY_LENGTH, title: "q", description: "What to look for (see the syntax above)" }),
  conversation_id: t.Optional(UuidInput),
  limit: Limit(DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT),
  before: t.Optional(
    t.String({
      pattern: "^[0-9a-z]{1,11}$",
      title: "before",
      description: "Opaque cursor: the next_before of the previous page; results older than its last one",
    }),
  ),
});
export type SearchQuery = Static<typeof SearchQuery>;

export const SearchResult = t.Object({
  message: MessageView,
  highlight: t.String({ description: "The content HTML-escaped, each match wrapped in <mark>…</mark>" }),
});
export type SearchResult = Static<typeof SearchResult>;

export const SearchPage = t.Object({
  results: t.Array(SearchResult),
  next_before: t.Union([t.String(), t.Null()], { description: "Cursor for the next (older) page; null on the last page" }),
});
export type SearchPage = Static<typeof SearchPage>;
