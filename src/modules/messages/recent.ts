// The latest messages of recently read conversations, kept as ready-made JSON. Opening a
// conversation (latest page) and catching up after a reconnect (after=S) are the reads a chat
// server answers most; from this window they cost one point query instead of a row scan plus
// per-message encoding and response validation.
//
// Never stale: messages are immutable once written, and every read first compares the
// conversation's last_seq (fetched with the caller's read cursors in one statement) with what the
// window has seen; newer rows are appended, anything odd (a restored database) refills it. Rows
// written by another process are therefore picked up too.
import type { Db } from "../../db/client";
import { encodeMessage, MESSAGE_COLUMNS, type EncodedMessage, type MessageRecord } from "./message-view";
import { MAX_PAGE_SIZE, type PageOptions } from "./model";

interface Window {
  /** Ascending by seq; every stored message with seq ≥ messages[0].seq is here. */
  messages: EncodedMessage[];
  /** True when the window holds the whole conversation. */
  complete: boolean;
  /** The conversation's last_seq this window is known to be current with. */
  syncedTo: number;
  bytes: number;
}

const DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024;

const sizeOf = (m: EncodedMessage) => m.read.byteLength + m.unread.byteLength + 160;
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
  private readonly latest;
  private readonly newer;

  constructor(
    db: Db,
    private readonly budgetBytes = DEFAULT_BUDGET_BYTES,
    private readonly size = MAX_PAGE_SIZE,
  ) {
    this.latest = db.$client.query<MessageRecord, [string, number]>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?`,
    );
    this.newer = db.$client.query<MessageRecord, [string, number, number]>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
    );
  }

  /**
   * The page from the window, or null when the window cannot answer it (older history).
   * `lastSeq` is the conversation's last_seq as just read from the database.
   */
  page(conversationId: string, lastSeq: number, page: PageOptions): EncodedMessage[] | null {
    const window = this.current(conversationId, lastSeq);
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

  private current(conversationId: string, lastSeq: number): Window {
    let window = this.windows.get(conversationId);
    if (window) {
      this.windows.delete(conversationId);
      if (window.syncedTo !== lastSeq && !this.catchUp(conversationId, window, lastSeq)) {
        this.bytes -= window.bytes;
        window = undefined;
      }
    }
    window ??= this.fill(conversationId, lastSeq);
    this.windows.set(conversationId, window);
    this.evict(conversationId);
    return window;
  }

  private fill(conversationId: string, lastSeq: number): Window {
    const rows = this.latest.all(conversationId, this.size).reverse();
    const messages = rows.map(encodeMessage);
    const bytes = messages.reduce((sum, m) => sum + sizeOf(m), WINDOW_OVERHEAD_BYTES);
    this.bytes += bytes;
    // Seqs start at 1, so a window starting there holds everything even when it is full.
    const complete = rows.length < this.size || rows[0]!.seq <= 1;
    return { messages, complete, syncedTo: lastSeq, bytes };
  }

  /** Appends what was written since; false when too much changed to patch (refill instead). */
  private catchUp(conversationId: string, window: Window, lastSeq: number): boolean {
    if (lastSeq < window.syncedTo) return false;
    const top = window.messages.at(-1)?.seq ?? 0;
    const rows = this.newer.all(conversationId, top, this.size + 1);
    if (rows.length > this.size) return false;
    for (const row of rows) {
      const encoded = encodeMessage(row);
      window.messages.push(encoded);
      window.bytes += sizeOf(encoded);
      this.bytes += sizeOf(encoded);
    }
    const excess = window.messages.length - this.size;
    if (excess > 0) {
      for (const dropped of window.messages.splice(0, excess)) {
        window.bytes -= sizeOf(dropped);
        this.bytes -= sizeOf(dropped);
      }
      window.complete = window.messages[0]!.seq <= 1;
    }
    window.syncedTo = lastSeq;
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
