// The latest messages of recently read conversations, kept as ready-made JSON. Opening a
// conversation (latest page) and catching up after a reconnect (after=S) are the reads a chat
// server answers most; from this window they cost one point query instead of a row scan plus
// per-message encoding and response validation.
//
// Never stale: every change to a conversation's messages (new, edited, deleted, reacted to,
// replied to) takes the conversation's next rev and stamps it on the messages it changed. Every
// read first compares the conversation's rev (from the conversation-state cache) with the rev the
// window is current with; rows changed since are re-read in one indexed query (conversation_id,
// rev) and appended or replaced by seq; anything odd (a restored database) refills it. Rows
// written by another process are therefore picked up too.
import type { Caches, MessageStore, Sync } from "../../ports/stores";
import { encodeMessage, type EncodedMessage, type MessageRecord } from "./message-view";
import { MAX_PAGE_SIZE, type PageOptions } from "./model";

interface Window {
  /** Ascending by seq; every stored message with seq ≥ messages[0].seq is here. */
  messages: EncodedMessage[];
  /** True when the window holds the whole conversation. */
  complete: boolean;
  /** The conversation's rev this window is known to be current with. */
  syncedTo: number;
  bytes: number;
}

const DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024;

const sizeOf = (m: EncodedMessage) =>
  m.read.byteLength + m.unread.byteLength + 160 + (m.perReader ? m.perReader.record.content.length * 3 + 400 : 0);
/** The map entry and window object, so even empty windows count against the budget. */
const WINDOW_OVERHEAD_BYTES = 256;

/** First index whose seq is ≥ seq (messages.length when none). */
function lowerBound(messages: EncodedMessage[], seq: number): number {
  let lo = 0;
  let hi = messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (messages[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class RecentMessages {
  /** Insertion order is recency: a read moves its window to the end, eviction takes the front. */
  private readonly windows = new Map<string, Window>();
  private bytes = 0;
  constructor(
    /** Synchronous reads (the SQLite adapter): a page from the window never waits. */
    private readonly store: Sync<Pick<MessageStore, "page" | "changedSince" | "reactions">>,
    private readonly budgetBytes = DEFAULT_BUDGET_BYTES,
    private readonly size = MAX_PAGE_SIZE,
  ) {}

  /** Encodes rows with their reactions (one query for all of them). */
  private encode(rows: MessageRecord[]): EncodedMessage[] {
    const reactions = this.store.reactions(rows.map((r) => r.id));
    return rows.map((r) => encodeMessage(r, reactions.get(r.id)));
  }

  /**
   * The page from the window, or null when the window cannot answer it (older history).
   * `head` is the conversation's current rev and last_seq.
   */
  page(conversationId: string, head: { rev: number; lastSeq: number }, page: PageOptions): EncodedMessage[] | null {
    const window = this.current(conversationId, head.rev, head.lastSeq);
    const { messages, complete } = window;
    const { limit } = page;
    if (page.after !== undefined) {
      // Everything after S is here when S is inside the window (or the window is everything).
      if (!complete && (messages.length === 0 || page.after < messages[0]!.seq)) return null;
      const from = lowerBound(messages, page.after + 1);
      return messages.slice(from, from + limit);
    }
    const end = page.before !== undefined ? lowerBound(messages, page.before) : messages.length;
    if (end < limit && !complete) return null;
    return messages.slice(Math.max(0, end - limit), end);
  }

  get cachedBytes() {
    return this.bytes;
  }

  get cachedConversations() {
    return this.windows.size;
  }

  private current(conversationId: string, rev: number, lastSeq: number): Window {
    let window = this.windows.get(conversationId);
    if (window) {
      this.windows.delete(conversationId);
      // Fewer messages than the window holds: a restored database, not a change to patch.
      const top = window.messages.at(-1)?.seq ?? 0;
      const rewound = top > lastSeq;
      const stale = window.syncedTo !== rev || top < lastSeq;
      if (rewound || (stale && !this.catchUp(conversationId, window, rev, lastSeq))) {
        this.bytes -= window.bytes;
        window = undefined;
      }
    }
    window ??= this.fill(conversationId, rev);
    this.windows.set(conversationId, window);
    this.evict(conversationId);
    return window;
  }

  private fill(conversationId: string, rev: number): Window {
    const rows = this.store.page(conversationId, { limit: this.size });
    const messages = this.encode(rows);
    const bytes = messages.reduce((sum, m) => sum + sizeOf(m), WINDOW_OVERHEAD_BYTES);
    this.bytes += bytes;
    // Seqs start at 1, so a window starting there holds everything even when it is full.
    const complete = rows.length < this.size || rows[0]!.seq <= 1;
    return { messages, complete, syncedTo: rev, bytes };
  }

  /**
   * Applies what changed since the window's rev: new messages appended, changed ones replaced in
   * place (older ones than the window are not in it); false when too much changed (refill instead).
   */
  private catchUp(conversationId: string, window: Window, rev: number, lastSeq: number): boolean {
    if (rev < window.syncedTo) return false;
    const rows = this.store.changedSince(conversationId, window.syncedTo, this.size + 1);
    if (rows.length > this.size) return false;
    const top = window.messages.at(-1)?.seq ?? 0;
    // Rows written without a rev (another process importing history) are still found by seq.
    const newest = rows.reduce((max, r) => Math.max(max, r.seq), top);
    if (newest < lastSeq) {
      const newer = this.store.page(conversationId, { after: newest, limit: this.size + 1 });
      if (newer.length > this.size) return false;
      rows.push(...newer);
    }
    const encoded = this.encode(rows).sort((a, b) => a.seq - b.seq);
    for (const message of encoded) {
      if (message.seq > top) {
        window.messages.push(message);
      } else {
        const at = lowerBound(window.messages, message.seq);
        const old = window.messages[at];
        if (!old || old.seq !== message.seq) continue;
        window.messages[at] = message;
        window.bytes -= sizeOf(old);
        this.bytes -= sizeOf(old);
      }
      window.bytes += sizeOf(message);
      this.bytes += sizeOf(message);
    }
    const excess = window.messages.length - this.size;
    if (excess > 0) {
      for (const dropped of window.messages.splice(0, excess)) {
        window.bytes -= sizeOf(dropped);
        this.bytes -= sizeOf(dropped);
      }
      window.complete = window.messages[0]!.seq <= 1;
    }
    window.syncedTo = rev;
    return true;
  }

  private evict(keep: string) {
    for (const [id, window] of this.windows) {
      if (this.bytes <= this.budgetBytes || id === keep) break;
      this.windows.delete(id);
      this.bytes -= window.bytes;
    }
  }
}

/**
 * No window: every page is read from the stores. For an adapter whose reads return promises
 * (PostgreSQL): the window refreshes itself synchronously inside page().
 */
export const NO_RECENT_MESSAGES: Pick<RecentMessages, "page"> = { page: () => null };

/** The caches of the messages module in Deps.caches: the storage adapter's, plus the encoded window. */
export interface MessageCaches extends Caches {
  /** The latest messages of recently read conversations as encoded JSON; checked against the conversation's rev on every read. */
  recentMessages: Pick<RecentMessages, "page">;
}
