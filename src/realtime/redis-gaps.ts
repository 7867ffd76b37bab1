// The revs this instance has delivered, per conversation, to find the ones it never got.
//
// Events reach an instance out of rev order as a matter of course: its own commits are published
// at once, another instance's arrive a moment later through the broker, and two instances commit
// to one conversation side by side. So a missing rev is only a gap once it has stayed missing for
// `graceMs` (an event still in flight arrives well within that); then the instance repairs it
// from the database (`due` lists what to repair, `repaired` records it).
//
// Per conversation: `floor`, the rev up to which nothing is missing; the revs seen above it; the
// last seq delivered (a repaired message above it is new to the clients, one below an update).
// The first event of a conversation sets its floor: what came before it was not this instance's
// to deliver.

export interface Gap {
  conversationId: string;
  /** Repair the revs in (afterRev, untilRev] that are not in `seen`. */
  afterRev: number;
  untilRev: number;
  seen: ReadonlySet<number>;
  /** The highest seq delivered so far (a message above it is sent as new_message). */
  lastSeq: number;
}

interface Track {
  floor: number;
  above: Set<number>;
  lastSeq: number;
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

  /** Records one delivered event of the conversation (rev, and seq for a new message). */
  note(conversationId: string, rev: number, seq?: number) {
    let track = this.tracks.get(conversationId);
    if (!track) {
      if (this.tracks.size >= MAX_TRACKED) this.tracks.delete(this.tracks.keys().next().value!);
      this.tracks.set(conversationId, { floor: rev, above: new Set(), lastSeq: seq ?? 0, missingSince: null });
      return;
    }
    // Most recently noted last, so the oldest entry is the first the size cap drops.
    this.tracks.delete(conversationId);
    this.tracks.set(conversationId, track);
    if (seq !== undefined && seq > track.lastSeq) track.lastSeq = seq;
    if (rev <= track.floor) return;
    track.above.add(rev);
    this.settle(track);
  }

  private settle(track: Track) {
    while (track.above.delete(track.floor + 1)) track.floor++;
    for (const rev of track.above) if (rev <= track.floor) track.above.delete(rev);
    if (track.above.size === 0) track.missingSince = null;
    else track.missingSince ??= this.clock();
  }

  /** The conversations whose missing revs have stayed missing for the grace period. */
  due(): Gap[] {
    const now = this.clock();
    const gaps: Gap[] = [];
    for (const [conversationId, track] of this.tracks) {
      if (track.missingSince === null || now - track.missingSince < this.graceMs) continue;
      gaps.push({ conversationId, afterRev: track.floor, untilRev: Math.max(...track.above), seen: new Set(track.above), lastSeq: track.lastSeq });
    }
    return gaps;
  }

  /** The gap was repaired: everything up to `gap.untilRev` counts as delivered. */
  repaired(gap: Gap, lastSeq = 0) {
    const track = this.tracks.get(gap.conversationId);
    if (!track) return;
    if (gap.untilRev > track.floor) track.floor = gap.untilRev;
    if (lastSeq > track.lastSeq) track.lastSeq = lastSeq;
    track.missingSince = null;
    this.settle(track);
  }

  /** Whether every rev up to `rev` is accounted for (tests and the property test). */
  floorOf(conversationId: string) {
    return this.tracks.get(conversationId)?.floor;
  }

  /** Forgets everything (after a broker outage every client resyncs anyway). */
  clear() {
    this.tracks.clear();
  }
}
