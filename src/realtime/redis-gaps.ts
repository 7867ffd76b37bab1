// The revs this instance has delivered, per conversation, to find the ones it never got.
//
// Events reach an instance out of rev order as a matter of course: its own commits are published
// at once, another instance's arrive a moment later through the broker, and two instances commit
// to one conversation side by side. So a missing rev is only a gap once it has stayed missing for
// `graceMs` (an event still in flight arrives well within that); then the instance repairs it
// from the database (`due` lists what to repair, `repaired` records it).
//
// Per conversation: `floor`, the rev up to which nothing is missing, and the revs seen above it;
// the same for the seqs of new messages (a repaired message whose seq was never delivered goes
// out as new_message, one that was as message_updated).
// The first event of a conversation sets its floor: what came before it was not this instance's
// to deliver. The revs a repair sent are remembered (the last REPAIRED_KEPT per conversation), so
// their own entries, should they turn up after all, are not delivered a second time.

export interface Gap {
  conversationId: string;
  /** Repair the revs in (afterRev, untilRev] that are not in `seen`. */
  afterRev: number;
  untilRev: number;
  seen: ReadonlySet<number>;
  /** Whether the message of this seq was delivered as new_message (else the repair sends it so). */
  seqDelivered(seq: number): boolean;
}

/** A set of numbers as a floor (everything up to it) and the members above it. */
class Contiguous {
  readonly above = new Set<number>();
  constructor(public floor: number) {}
  add(n: number) {
    if (n <= this.floor) return;
    this.above.add(n);
    this.settle();
  }
  raise(to: number) {
    if (to > this.floor) this.floor = to;
    this.settle();
  }
  has(n: number) {
    return n <= this.floor || this.above.has(n);
  }
  private settle() {
    while (this.above.delete(this.floor + 1)) this.floor++;
    for (const n of this.above) if (n <= this.floor) this.above.delete(n);
  }
}

/** What a repair sent: each message's rev and seq, and whether it went out as new_message. */
export interface Repaired {
  rev: number;
  seq: number;
  created: boolean;
}

const REPAIRED_KEPT = 1_000;

interface Track {
  revs: Contiguous;
  /** Revs a repair sent, oldest first (bounded). */
  repairedRevs: Set<number>;
  /** Null until the first new message is seen: then messages before it were not this instance's. */
  seqs: Contiguous | null;
  /** When the oldest missing rev was first known to be missing, or null while none is. */
  missingSince: number | null;
}

/** At most this many conversations are tracked; the least recently noted are forgotten. */
const MAX_TRACKED = 100_000;

export class GapTracker {
  private readonly tracks = new Map<string, Track>();

  constructor(
    readonly graceMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Records one delivered event of the conversation (its rev, and the seq of a new message). */
  note(conversationId: string, rev: number, seq?: number) {
    let track = this.tracks.get(conversationId);
    if (track) {
      // Most recently noted last, so the oldest entry is the first the size cap drops.
      this.tracks.delete(conversationId);
    } else {
      if (this.tracks.size >= MAX_TRACKED) this.tracks.delete(this.tracks.keys().next().value!);
      track = { revs: new Contiguous(rev), repairedRevs: new Set(), seqs: null, missingSince: null };
    }
    this.tracks.set(conversationId, track);
    if (seq !== undefined) {
      if (track.seqs) track.seqs.add(seq);
      else track.seqs = new Contiguous(seq);
    }
    track.revs.add(rev);
    this.check(track);
  }

  private check(track: Track) {
    if (track.revs.above.size === 0) track.missingSince = null;
    else track.missingSince ??= this.clock();
  }

  /** The conversations whose missing revs have stayed missing for the grace period. */
  due(): Gap[] {
    const now = this.clock();
    const gaps: Gap[] = [];
    for (const [conversationId, track] of this.tracks) {
      if (track.missingSince === null || now - track.missingSince < this.graceMs) continue;
      const seqs = track.seqs;
      gaps.push({
        conversationId,
        afterRev: track.revs.floor,
        untilRev: Math.max(...track.revs.above),
        seen: new Set(track.revs.above),
        seqDelivered: (seq) => seqs?.has(seq) ?? false,
      });
    }
    return gaps;
  }

  /** The gap was repaired: every rev up to `gap.untilRev` and these messages count as delivered. */
  repaired(gap: Gap, sent: Repaired[] = []) {
    const track = this.tracks.get(gap.conversationId);
    if (!track) return;
    track.revs.raise(gap.untilRev);
    for (const { rev, seq, created } of sent) {
      track.repairedRevs.add(rev);
      if (track.repairedRevs.size > REPAIRED_KEPT) track.repairedRevs.delete(track.repairedRevs.values().next().value!);
      if (!created) continue;
      if (track.seqs) track.seqs.add(seq);
      else track.seqs = new Contiguous(seq);
    }
    track.missingSince = null;
    this.check(track);
  }

  /** Whether a repair already sent this rev (its late entry is then not delivered again). */
  wasRepaired(conversationId: string, rev: number) {
    return this.tracks.get(conversationId)?.repairedRevs.has(rev) ?? false;
  }

  /** The rev up to which nothing is missing (tests). */
  floorOf(conversationId: string) {
    return this.tracks.get(conversationId)?.revs.floor;
  }

  /** Forgets everything (after a broker outage every client resyncs anyway). */
  clear() {
    this.tracks.clear();
  }
}
