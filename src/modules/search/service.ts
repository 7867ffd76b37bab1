// Full-text search over the messages of the caller's conversations: the SearchStore finds the hits
// (SQLite: the FTS5 index of migration 0004, kept exact by triggers), membership joined inside its
// query, so a page never holds, counts or skips over a message the caller may not see; the
// messages themselves, their reactions and read state are read here just after. A hit whose
// message went away in between (its conversation deleted) is left out; one deleted in between shows
// as the tombstone it now is.
import { notFound, unprocessable } from "../../errors";
import { isReadFor, toMessageView, type MessageRecord } from "../messages/service";
import type { SearchPage, SearchResult } from "./model";
import { parseQuery } from "./query";
import { SearchRefused, type Awaitable, type Storage } from "../../ports/stores";

export interface SearchOptions {
  q: string;
  conversationId?: string;
  limit: number;
  before?: string;
}

/** The cursor is the last hit's position (SQLite: its rowid) in base 36: opaque to clients, stable across writes. */
export const encodeCursor = (position: number) => position.toString(36);
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

/**
 * Our expressions are always valid for the engine; should one ever not be (a tokenizer or SQLite
 * upgrade), the client hears a 422 about its query, not a 500.
 */
async function runSearch<T>(run: () => Awaitable<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SearchRefused) throw unprocessable("q", "cannot be searched as written");
    throw error;
  }
}

export async function searchMessages({ stores, caches }: Storage, userId: string, options: SearchOptions): Promise<SearchPage> {
  const terms = parseQuery(options.q);
  const before = decodeCursor(options.before);
  const states = caches.conversationStates;
  if (options.conversationId !== undefined && !(await states.readState(options.conversationId, userId))) throw notFound("Conversation");
  const { hits, more } = await runSearch(() => stores.search.hits(userId, terms, { before, limit: options.limit, conversationId: options.conversationId }));
  const records = new Map<string, MessageRecord>();
  for (const row of await stores.messages.byIds(hits.map((h) => h.messageId))) records.set(row.id, row);
  const results: SearchResult[] = [];
  const reactions = await stores.messages.reactions([...records.values()].map((r) => r.id));
  for (const { messageId, marked } of hits) {
    const record = records.get(messageId);
    if (!record) continue;
    const state = await states.readState(record.conversation_id, userId);
    // Membership was joined in the query; is_read comes from the in-memory cursors, which may not yet
    // know of a membership that changed this instant: leave the row out rather than guess.
    if (!state) continue;
    const highlight = toHighlight(marked.text, marked.open, marked.close);
    results.push({ message: toMessageView(record, isReadFor(record, userId, state), reactions.get(record.id), userId), highlight });
  }
  return { results, next_before: more && hits.length ? encodeCursor(hits.at(-1)!.position) : null };
}
