// W7's corpus: chat-like text with a Zipf word distribution (a few very common words, a long tail),
// written straight into a migrated database with bun:sqlite in large transactions (the search
// index's triggers run as they would for the server's own writes), and the queries a user would type.
import { Database } from "bun:sqlite";

/** Common chat words first (rank order matters: Zipf gives rank 1 the most occurrences). */
const COMMON = (
  "the to i you a and it is that of in for on be have we this can do my with not are so just but " +
  "at was what if me will get all about your no know like they there ok up out how think one yes " +
  "good now time when go thanks see from would then today tomorrow meeting call work need let some " +
  "did back also should could here more make sure week please team release build test deploy review " +
  "lunch coffee morning later issue bug fix server client update change merge branch ticket customer " +
  "report plan project design price invoice budget office weekend holiday train flight hotel dinner " +
  "birthday party movie music game football weather rain snow summer winter doctor school kids garden " +
  "kitchen recipe pizza pasta salad chocolate museum concert ticket picture camera phone laptop screen " +
  "keyboard printer network database backup password account login email calendar agenda deadline"
).split(" ");

const SYLLABLES = "ka lo mi ne ru ta vo shi pe an el or us in ko ra ti mu sa de bo li na fe go ha ju ze qui tor ven mar sel pol".split(" ");

/** `size` distinct words: the common ones, then made-up pronounceable words for the long tail. */
export function vocabulary(size: number, seed = 7): string[] {
  const words = [...new Set(COMMON)];
  const seen = new Set(words);
  const rand = rng(seed);
  while (words.length < size) {
    const n = 2 + Math.floor(rand() * 3);
    let w = "";
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    if (!seen.has(w)) seen.add(w), words.push(w);
  }
  return words.slice(0, size);
}

/** A small deterministic PRNG (mulberry32), so every run builds the same corpus. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0..n-1 with probability ∝ 1/(rank+1)^s. */
export function zipf(n: number, s: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / Math.pow(r + 1, s);
  for (let r = 0; r < n; r++) cdf[r]! /= sum;
  return () => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface Corpus {
  words: string[];
  /** Conversation ids; the searcher is a member of the first `searcherIn`. */
  conversations: string[];
  searcherId: string;
  messages: number;
}

/**
 * Adds users' memberships and `to - from` messages (spread over the conversations round-robin with
 * a random skip, in time order) to a migrated database where `searcherId` and `senderId` exist.
 * Returns how long it took. Call again with a larger `to` to grow the same corpus.
 */
export function fillCorpus(
  dbPath: string,
  p: { searcherId: string; senderId: string; conversations: number; searcherIn: number; from: number; to: number; vocabulary: number },
): { conversations: string[]; words: string[] } {
  const db = new Database(dbPath, { strict: true });
  try {
    db.run("PRAGMA busy_timeout = 10000");
    db.run("PRAGMA synchronous = OFF");
    db.run("PRAGMA cache_size = -200000");
    const at = Date.now();
    let conversations = db
      .query<{ id: string }, []>("SELECT id FROM conversations WHERE name LIKE 'w7-%' ORDER BY name")
      .all()
      .map((r) => r.id);
    if (conversations.length === 0) {
      const conv = db.query("INSERT INTO conversations (id, name, is_group, created_by, last_seq, last_activity_at, created_at, updated_at) VALUES (?, ?, 1, ?, 0, ?, ?, ?)");
      const member = db.query("INSERT INTO members (conversation_id, user_id, last_read_seq, joined_at) VALUES (?, ?, 0, ?)");
      db.transaction(() => {
        for (let c = 0; c < p.conversations; c++) {
          const id = Bun.randomUUIDv7();
          conv.run(id, `w7-${String(c).padStart(5, "0")}`, p.senderId, at, at, at);
          member.run(id, p.senderId, at);
          if (c < p.searcherIn) member.run(id, p.searcherId, at);
          conversations.push(id);
        }
      })();
    }
    const words = vocabulary(p.vocabulary);
    const rand = rng(1000 + p.from);
    const draw = zipf(words.length, 1.05, rand);
    const seqs = new Map(db.query<{ id: string; last_seq: number }, []>("SELECT id, last_seq FROM conversations").all().map((r) => [r.id, r.last_seq]));
    const insert = db.query(
      "INSERT INTO messages (id, conversation_id, seq, sender_id, recipient_id, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?)",
    );
    const setSeq = db.query("UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?");
    const t0 = at - (p.to - p.from);
    const chunk = 50_000;
    for (let from = p.from; from < p.to; from += chunk) {
      db.transaction(() => {
        for (let i = from; i < Math.min(p.to, from + chunk); i++) {
          const conversationId = conversations[Math.floor(rand() * conversations.length)]!;
          const seq = seqs.get(conversationId)! + 1;
          seqs.set(conversationId, seq);
          const length = 4 + Math.floor(rand() * 14);
          let text = words[draw()]!;
          for (let w = 1; w < length; w++) text += " " + words[draw()]!;
          const time = t0 + (i - p.from);
          insert.run(Bun.randomUUIDv7("hex", time), conversationId, seq, p.senderId, text, time, time);
        }
      })();
    }
    db.transaction(() => {
      for (const [id, seq] of seqs) setSeq.run(seq, at, id);
    })();
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    return { conversations, words };
  } finally {
    db.close();
  }
}

/**
 * What people type into a search box: mostly one content word (not the top stop words), some two
 * words, some prefixes, some two-word phrases; a fixed list so every size and run asks the same.
 */
export function searchQueries(words: string[], count: number, seed = 99): string[] {
  const rand = rng(seed);
  const content = words.slice(60); // past "the", "to", "and", ...
  const draw = zipf(content.length, 0.8, rand);
  const pick = () => content[draw()]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rand();
    if (kind < 0.65) out.push(pick());
    else if (kind < 0.8) out.push(`${pick()} ${pick()}`);
    else if (kind < 0.92) {
      const w = pick();
      out.push(`${w.slice(0, Math.max(3, Math.ceil(w.length * 0.6)))}*`);
    } else out.push(`"${pick()} ${words[Math.floor(rand() * 60)]!}"`);
  }
  return out;
}
