// Delivery receipts: each member's forward-only `last_delivered_seq` (never beyond the
// conversation's last seq; reading implies delivery, so markRead raises it too). Not a revision.
//
// Clients send a `received` frame for every message they display, so a group message would cost
// one write per member. Instead frames are checked from memory (membership, last_seq, the highest
// seq already noted) and coalesced: cursors that moved are written together once per FLUSH_MS in
// one transaction, then each moved cursor is reported once (`delivered_moved` → `message_delivered`).
// A receipt still pending when the process stops is lost; the client's next frame carries it again.
import { notFound } from "../../errors";
import type { ChangeFeed } from "../../ports/changes";
import { andThen, type Awaitable, type CursorRow, type Storage } from "../../ports/stores";

export const FLUSH_MS = 200;
/** Pending cursors written at once before the timer when this many pile up. */
const MAX_PENDING = 10_000;
/** Forgotten wholesale past this (it is only a filter: a lower bound of the stored cursor). */
const MAX_KNOWN = 200_000;

export interface DeliveryReceipt {
  conversation_id: string;
  user_id: string;
  last_delivered_seq: number;
}

/** A member's read and delivered cursors (delivered never below read). */
export type Receipt = CursorRow;

export class DeliveryReceipts {
  private readonly pending = new Map<string, { conversationId: string; userId: string; seq: number }>();
  /** conversation:user → a seq the stored cursor is known to have reached. */
  private readonly known = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly feed: ChangeFeed,
    /** StorageHealth.writesWait: a flush waits for a stalled disk rather than block the loop. */
    private readonly writesWait: () => Promise<void> | null = () => null,
  ) {}

  /** Notes that the user's devices hold the conversation up to seq; 404 when not a member. */
  note(userId: string, conversationId: string, seq: number): Awaitable<void> {
    return andThen(this.storage.caches.conversationStates.get(conversationId), (state) => {
      if (!state?.cursors.has(userId)) throw notFound("Conversation");
      const target = Math.min(seq, state.lastSeq);
      const key = `${conversationId}:${userId}`;
      if (target <= (this.known.get(key) ?? 0) || target <= (this.pending.get(key)?.seq ?? 0)) return;
      this.pending.set(key, { conversationId, userId, seq: target });
      if (this.pending.size >= MAX_PENDING) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
    });
  }

  /** Writes every pending cursor in one transaction and reports the ones that moved. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const stalled = this.writesWait();
    if (stalled) return stalled.then(() => this.flush());
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (this.known.size > MAX_KNOWN) this.known.clear();
    const at = Date.now();
    let moved: typeof batch;
    try {
      moved = await this.storage.stores.messages.markDelivered(batch);
    } catch {
      // A failing or busy disk: receipts are best effort (clients send them again), sends are not.
      return;
    }
    for (const p of batch) this.known.set(`${p.conversationId}:${p.userId}`, p.seq);
    for (const p of moved) {
      this.feed.committed({ type: "delivered_moved", conversationId: p.conversationId, userId: p.userId, lastDeliveredSeq: p.seq, at });
    }
  }

  /** The REST form: noted and written at once; answers the caller's cursor as stored. */
  async markNow(userId: string, conversationId: string, seq: number): Promise<DeliveryReceipt> {
    await this.note(userId, conversationId, seq);
    await this.flush();
    const row = (await this.storage.stores.messages.cursors(conversationId)).find((c) => c.user_id === userId);
    if (!row) throw notFound("Conversation");
    return { conversation_id: conversationId, user_id: userId, last_delivered_seq: row.last_delivered_seq };
  }

  /** Every member's read and delivered cursors (members are capped, so the list is bounded). */
  async list(userId: string, conversationId: string): Promise<Receipt[]> {
    if (!(await this.storage.caches.conversationStates.get(conversationId))?.cursors.has(userId)) throw notFound("Conversation");
    await this.flush();
    return this.storage.stores.messages.cursors(conversationId);
  }
}
