// What every send and page read asks about a conversation (kind, members, last_seq, rev and each
// member's read cursor) on PostgreSQL: a hit is answered from memory, synchronously; a miss is one
// query (MessageStore.head), and concurrent misses of one conversation share it.
//
// How it stays exact while several instances share the database:
// - This instance's commits reach it through the change feed (modules/changes/feed.ts), as on
//   SQLite: noteStored / noteRev / noteRead after each commit, invalidate on membership changes.
// - Other instances' commits reach it through the Redis bus (realtime/redis-caches.ts,
//   followRemoteChanges): a new message moves last_seq and rev, any other revision moves rev, a
//   membership change drops the entry. With no broker there is one instance, and the feed suffices.
// - Other instances' read cursors move with their message_read events on the bus. Nothing is
//   relayed while the broker is down (an outage clears the cache) or with no broker between
//   instances that share the database: there, staleness is bounded. An entry is used for at most `maxAgeMs` (1 s by default) after it
//   was read, then read again. A stale cursor only shows a message as unread (or not yet read by the
//   others) for that long; it never lets a send or a read through that the database would refuse.
// A note that arrives while an entry is being read is applied to what the read returns (notes only
// move values forward, so one the read already saw changes nothing); an invalidation during a read
// keeps that read's result out of the cache.
import { andThen, type Awaitable, type ConversationHead, type ConversationStateCache, type MessageStore, type ReadState } from "../../../ports/stores";


/** Entries are small, but a 1,000-member group holds 1,000 cursors: the bound counts cursors. */
const MAX_CACHED_CURSORS = 500_000;

type Note = (state: ConversationHead) => void;
interface Entry {
  state: ConversationHead;
  readAt: number;
}
interface Loading {
  promise: Promise<ConversationHead | null>;
  /** Notes that arrived during the read, applied to its result. */
  notes: Note[];
  /** Invalidated during the read: its result is returned to its callers but not kept. */
  dropped: boolean;
}

export interface PgConversationStatesOptions {
  /** How long an entry is used before it is read again (other instances' read cursors). */
  maxAgeMs?: number;
  /** The clock (tests pass their own). */
  now?: () => number;
}

export class PgConversationStates implements ConversationStateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Loading>();
  private cursorCount = 0;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<MessageStore, "head">,
    options: PgConversationStatesOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  get(conversationId: string): Awaitable<ConversationHead | null> {
    const entry = this.entries.get(conversationId);
    if (entry && this.now() - entry.readAt < this.maxAgeMs) return entry.state;
    return this.loading.get(conversationId)?.promise ?? this.load(conversationId);
  }

  readState(conversationId: string, userId: string): Awaitable<(ReadState & { lastSeq: number; rev: number }) | null> {
    return andThen(this.get(conversationId), (state) => {
      const mine = state?.cursors.get(userId);
      if (state === null || mine === undefined) return null;
      // A group of one (no other cursor): your own messages count as read.
      const othersMin = [...state.cursors].reduce((min, [member, seq]) => (member === userId ? min : Math.min(min, seq)), Number.MAX_SAFE_INTEGER);
      return { mine, othersMin, lastSeq: state.lastSeq, rev: state.rev };
    });
  }

  noteStored(conversationId: string, seq: number, rev: number): void {
    this.note(conversationId, (state) => {
      state.lastSeq = Math.max(state.lastSeq, seq);
      state.rev = Math.max(state.rev, rev);
    });
  }

  noteRev(conversationId: string, rev: number): void {
    this.note(conversationId, (state) => {
      state.rev = Math.max(state.rev, rev);
    });
  }

  noteRead(conversationId: string, userId: string, seq: number): void {
    this.note(conversationId, ({ cursors }) => {
      const current = cursors.get(userId);
      if (current !== undefined && seq > current) cursors.set(userId, seq);
    });
  }

  invalidate(conversationId: string): void {
    this.drop(conversationId);
    const loading = this.loading.get(conversationId);
    if (loading) {
      loading.dropped = true;
      this.loading.delete(conversationId);
    }
  }

  clear(): void {
    this.entries.clear();
    this.cursorCount = 0;
    for (const loading of this.loading.values()) loading.dropped = true;
    this.loading.clear();
  }

  private note(conversationId: string, apply: Note): void {
    const entry = this.entries.get(conversationId);
    if (entry) apply(entry.state);
    this.loading.get(conversationId)?.notes.push(apply);
  }

  private load(conversationId: string): Promise<ConversationHead | null> {
    const readAt = this.now();
    const loading: Loading = { promise: Promise.resolve(null), notes: [], dropped: false };
    loading.promise = Promise.resolve(this.store.head(conversationId)).then(
      (state) => {
        if (this.loading.get(conversationId) === loading) this.loading.delete(conversationId);
        if (state === null) return null;
        for (const apply of loading.notes) apply(state);
        if (!loading.dropped) this.keep(conversationId, { state, readAt });
        return state;
      },
      (error) => {
        if (this.loading.get(conversationId) === loading) this.loading.delete(conversationId);
        throw error;
      },
    );
    this.loading.set(conversationId, loading);
    return loading.promise;
  }

  private keep(conversationId: string, entry: Entry): void {
    this.drop(conversationId);
    if (this.cursorCount + entry.state.cursors.size > MAX_CACHED_CURSORS) {
      this.entries.clear();
      this.cursorCount = 0;
    }
    this.entries.set(conversationId, entry);
    this.cursorCount += entry.state.cursors.size;
  }

  private drop(conversationId: string): void {
    const entry = this.entries.get(conversationId);
    if (!entry) return;
    this.entries.delete(conversationId);
    this.cursorCount -= entry.state.cursors.size;
  }
}
