// What every send and every page read asks about a conversation (kind, members, last_seq and each
// member's read cursor), answered from memory. On this hardware each SQLite read outside a
// transaction costs two lock syscalls and an fstat, more than the rest of a cached GET.
//
// Kept exact through the change feed (modules/changes/feed.ts), which every writer of these columns
// reports to after its commit: new messages move last_seq and rev, other changes move rev, read
// cursors move forward, and a membership change drops the conversation's entry (re-read on next
// use). A commit by any other process (an operator's sqlite3, a restore) changes SQLite's
// data_version, and then every entry is dropped and re-read.
//
// The SQLite adapter's instance of the ConversationStateCache port (ports/stores.ts), built once per
// connection by db/stores/index.ts and carried in Deps.caches.
import type { ConversationHead as ConversationState, ConversationStateCache, ReadState } from "../../ports/stores";
import type { Db } from "../client";
import { externalChanges } from "../external-changes";
import { SqliteMessageStore } from "./messages";

/** Entries are small, but a 1,000-member group holds 1,000 cursors: the bound counts cursors. */
const MAX_CACHED_CURSORS = 500_000;

export class ConversationStates implements ConversationStateCache {
  private readonly states = new Map<string, ConversationState>();
  private cursorCount = 0;
  private version: number;
  private readonly changes;

  constructor(
    db: Db,
    private readonly store: Pick<SqliteMessageStore, "head"> = new SqliteMessageStore(db),
  ) {
    this.changes = externalChanges(db);
    this.version = this.changes.version();
  }

  /** The conversation's state, or null when it does not exist. */
  get(conversationId: string): ConversationState | null {
    const version = this.changes.version();
    if (version !== this.version) {
      this.clear();
      this.version = version;
    }
    const hit = this.states.get(conversationId);
    if (hit) return hit;
    const state = this.store.head(conversationId);
    if (!state) return null;
    if (this.cursorCount + state.cursors.size > MAX_CACHED_CURSORS) this.clear();
    this.states.set(conversationId, state);
    this.cursorCount += state.cursors.size;
    return state;
  }

  /** The reader's cursors, or null when the conversation does not exist or they are not a member. */
  readState(conversationId: string, userId: string): (ReadState & { lastSeq: number; rev: number }) | null {
    const state = this.get(conversationId);
    const mine = state?.cursors.get(userId);
    if (mine === undefined) return null;
    let othersMin = Number.MAX_SAFE_INTEGER; // a group of one: your own messages count as read
    for (const [member, cursor] of state!.cursors) {
      if (member !== userId && cursor < othersMin) othersMin = cursor;
    }
    return { mine, othersMin, lastSeq: state!.lastSeq, rev: state!.rev };
  }

  /** A committed message with this seq and rev. */
  noteStored(conversationId: string, seq: number, rev: number) {
    const state = this.states.get(conversationId);
    if (!state) return;
    if (seq > state.lastSeq) state.lastSeq = seq;
    if (rev > state.rev) state.rev = rev;
  }

  /** A committed change other than a new message (edit, delete, reaction, rename). */
  noteRev(conversationId: string, rev: number) {
    const state = this.states.get(conversationId);
    if (state && rev > state.rev) state.rev = rev;
  }

  /** Members or roles changed: the entry is re-read on next use. */
  invalidate(conversationId: string) {
    const state = this.states.get(conversationId);
    if (!state) return;
    this.states.delete(conversationId);
    this.cursorCount -= state.cursors.size;
  }

  /** Called by markRead after a cursor moved forward in the database. */
  noteRead(conversationId: string, userId: string, seq: number) {
    const cursors = this.states.get(conversationId)?.cursors;
    const current = cursors?.get(userId);
    if (current !== undefined && seq > current) cursors!.set(userId, seq);
  }

  clear() {
    this.states.clear();
    this.cursorCount = 0;
  }
}
