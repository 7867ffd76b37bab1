// Where the client stands in each conversation: the last `seq` it delivered (v1: messages arrive in
// seq order with no gaps and no repeats) and, on servers with revisions (v2), the last `rev` it
// applied (a jump by more than one means a change was missed: ask for `changes`). Pure bookkeeping,
// no I/O, so the socket's reconnect loop stays readable and this part is easy to test.

/** What to do with a message at some seq: show it, drop it (already shown), or catch up first. */
export type Placement = "deliver" | "duplicate" | "gap";
/** What to do with a change at some rev: apply it, drop it (already applied), or ask for changes. */
export type RevPlacement = "apply" | "stale" | "gap";

/** How many messages' last shown rev is remembered, to drop repeated updates (changes after a gap). */
const MESSAGE_REVS_KEPT = 10_000;

export class Cursors {
  private readonly seqs = new Map<string, number>();
  private readonly revs = new Map<string, number>();
  private readonly messageRevs = new Map<string, number>();

  constructor(since: Record<string, number> = {}, revs: Record<string, number> = {}) {
    for (const [id, seq] of Object.entries(since)) this.seqs.set(id, seq);
    for (const [id, rev] of Object.entries(revs)) this.revs.set(id, rev);
  }

  has(conversationId: string) {
    return this.seqs.has(conversationId);
  }

  /** The last seq delivered in a conversation (0 when none or unknown). */
  position(conversationId: string) {
    return this.seqs.get(conversationId) ?? 0;
  }

  /** The last rev applied in a conversation (undefined when none yet). */
  revision(conversationId: string) {
    return this.revs.get(conversationId);
  }

  /** Starts following a conversation at `seq` (and `rev`) unless it is followed already. */
  follow(conversationId: string, seq: number, rev?: number) {
    if (!this.seqs.has(conversationId)) this.seqs.set(conversationId, seq);
    if (rev !== undefined && !this.revs.has(conversationId)) this.revs.set(conversationId, rev);
  }

  forget(conversationId: string) {
    this.seqs.delete(conversationId);
    this.revs.delete(conversationId);
  }

  /** Places a message; "deliver" also moves the position. An unknown conversation starts at 0. */
  placeMessage(conversationId: string, seq: number): Placement {
    const at = this.seqs.get(conversationId) ?? 0;
    if (!this.seqs.has(conversationId)) this.seqs.set(conversationId, at);
    if (seq <= at) return "duplicate";
    if (seq > at + 1) return "gap";
    this.seqs.set(conversationId, seq);
    return "deliver";
  }

  /**
   * Places a change by its rev (v2). The first rev seen of a conversation is taken as it comes: the
   * seq positions already cover its messages. "apply" also moves the rev.
   */
  placeRev(conversationId: string, rev: number | undefined): RevPlacement {
    if (rev === undefined) return "apply";
    const known = this.revs.get(conversationId);
    if (known !== undefined && rev <= known) return "stale";
    if (known !== undefined && rev > known + 1) return "gap";
    this.revs.set(conversationId, rev);
    return "apply";
  }

  /** After a `changes` page: everything up to `rev` is applied. */
  caughtUpTo(conversationId: string, rev: number) {
    if ((this.revs.get(conversationId) ?? -1) < rev) this.revs.set(conversationId, rev);
  }

  /** True when this state of a message (its rev) has not been shown yet; remembers it. */
  freshMessageState(messageId: string, rev: number | undefined): boolean {
    if (rev === undefined) return true;
    const shown = this.messageRevs.get(messageId);
    if (shown !== undefined && rev <= shown) return false;
    if (this.messageRevs.size >= MESSAGE_REVS_KEPT) this.messageRevs.delete(this.messageRevs.keys().next().value!);
    this.messageRevs.set(messageId, rev);
    return true;
  }

  /** The positions to persist, or to hand to the next `socket({ since })`. */
  since(): Record<string, number> {
    return Object.fromEntries(this.seqs);
  }

  revisions(): Record<string, number> {
    return Object.fromEntries(this.revs);
  }

  /** The sync frame that asks for everything after the current positions. */
  syncFrame(): { type: "sync"; since: Record<string, number>; revs?: Record<string, number> } {
    return this.revs.size > 0 ? { type: "sync", since: this.since(), revs: this.revisions() } : { type: "sync", since: this.since() };
  }
}
